// SPDX-License-Identifier: Apache-2.0
import Foundation
import Records
import Testing

@Suite struct ManifestTests {
    static let defaults = ManifestDefaults(account: "default-account", backbone: "minilm-l6", strategy: "lora")

    private func parse(_ text: String, defaults: ManifestDefaults = defaults) throws(IntakeError) -> Manifest {
        try Manifest.parse(Data(text.utf8), defaults: defaults)
    }

    @Test func designExampleParses() throws {
        let manifest = try parse("""
            { "account": "hospital-a", "backbone": "minilm-l6", "strategy": "lora", "objective": "classify",
              "labels": {"sentiment": ["negative","positive"]},
              "privacy": {"epsilon": 8, "delta": 1e-5, "unit": "unit", "accountant": "rdp"},
              "train": {"epochs": 3, "expected_batch": 64, "lr": 1e-3, "max_len": 128, "clip": 1.0, "seed": 7},
              "strategy_options": {"rank": 8, "task_weights": {"sentiment": 1.0}},
              "hyperparameters_tuned": true }
            """)
        #expect(manifest.account == "hospital-a")
        #expect(manifest.objective == .classify)
        #expect(manifest.labels == ["sentiment": ["negative", "positive"]])
        #expect(manifest.privacy == Manifest.Privacy(epsilon: 8, delta: 1e-5, unit: .unit, accountant: .rdp))
        #expect(manifest.train == Manifest.Train(epochs: 3, expectedBatch: 64, lr: 1e-3, maxLen: 128, clip: 1, seed: 7))
        #expect(manifest.strategyOptions["rank"] == .integer(8))
        #expect(String(decoding: manifest.strategyOptionsJSON, as: UTF8.self)
            == #"{"rank":8,"task_weights":{"sentiment":1}}"#)
        #expect(manifest.hyperparametersTuned)
        #expect(!manifest.insecureReproducibleNoise)
    }

    /// The resolved form reads back to the same manifest under other defaults, every one
    /// of which differs from those it was parsed with.
    @Test func theResolvedFormReadsBackUnderOtherDefaults() throws {
        let other = ManifestDefaults(
            account: "other", backbone: "other", strategy: "other", objective: .generate,
            labels: ["other": ["x", "y"]],
            privacy: Manifest.Privacy(epsilon: 1, delta: 1e-7, unit: .unit, accountant: .rdp),
            train: Manifest.Train(epochs: 9, expectedBatch: 7, lr: 0.5, maxLen: 16, clip: 3, seed: 1234,
                                  headInit: .labelNames, instruction: .omit),
            strategyOptions: ["other": .bool(true)], allowInsecureReproducibleNoise: true)
        var defaults = Self.defaults
        defaults.strategyOptions = ["rank": .integer(4)]
        defaults.allowInsecureReproducibleNoise = true
        let manifests = [
            try parse(#"{"labels": {"sentiment": ["negative", "positive"], "topic": ["a", "b", "c"]}, "privacy": {"epsilon": 7.94}, "train": {"lr": 0.0025, "seed": 9007199254740993}}"#, defaults: defaults),
            try parse(#"{"labels": {"t": ["b", "a"]}, "train": {"head_init": "label_names", "instruction": "omit"}, "hyperparameters_tuned": true, "insecure_reproducible_noise": true, "strategy_options": {"task_weights": {"t": 0.5}, "target_modules": ["query"]}}"#, defaults: defaults),
            try parse(#"{"objective": "generate", "privacy": {"unit": "unit", "accountant": "pld", "delta": 3e-6}}"#, defaults: defaults),
        ]
        for manifest in manifests {
            var reread = try Manifest.parse(manifest.resolvedJSON, defaults: other)
            if manifest.objective == .generate {
                // Classification-only settings are not part of a generate job's resolved form.
                reread.train.headInit = manifest.train.headInit
                reread.train.instruction = manifest.train.instruction
            }
            #expect(reread == manifest, "\(String(decoding: manifest.resolvedJSON, as: UTF8.self))")
        }
    }

    @Test func missingKeysComeFromDefaults() throws {
        var defaults = Self.defaults
        defaults.objective = .generate
        defaults.privacy.epsilon = 2
        defaults.train.seed = 99
        let manifest = try parse(#"{"privacy": {"delta": 1e-6}, "train": {"epochs": 1}}"#, defaults: defaults)
        #expect(manifest.account == "default-account")
        #expect(manifest.backbone == "minilm-l6")
        #expect(manifest.strategy == "lora")
        #expect(manifest.objective == .generate)
        #expect(manifest.privacy.epsilon == 2)
        #expect(manifest.privacy.delta == 1e-6)
        #expect(manifest.train.epochs == 1)
        #expect(manifest.train.seed == 99)
        #expect(manifest.train.expectedBatch == defaults.train.expectedBatch)
        #expect(!manifest.hyperparametersTuned)
        #expect(try Manifest(defaults: defaults) == parse("{}", defaults: defaults))
    }

    @Test func headsStartAtRandomUnlessTheLabelNamesAreAskedFor() throws {
        #expect(try parse(#"{"labels": {"s": ["a", "b"]}}"#).train.headInit == .random)
        #expect(try parse(#"{"labels": {"s": ["a", "b"]}, "train": {"head_init": "label_names"}}"#).train.headInit == .labelNames)
        #expect(try parse(#"{"objective": "generate", "train": {"head_init": "random"}}"#).train.headInit == .random)
    }

    @Test func classifyJobsEncodeTheInstructionUnlessAskedToOmitIt() throws {
        #expect(try parse(#"{"labels": {"s": ["a", "b"]}}"#).train.instruction == .encode)
        #expect(try parse(#"{"labels": {"s": ["a", "b"]}, "train": {"instruction": "omit"}}"#).train.instruction == .omit)
        #expect(try parse(#"{"objective": "generate", "train": {"instruction": "encode"}}"#).train.instruction == .encode)
    }

    @Test func pldNamesThePLDAccountant() throws {
        let manifest = try parse(#"{"privacy": {"accountant": "pld"}, "objective": "generate"}"#)
        #expect(manifest.privacy.accountant == .prv)
    }

    @Test func largeSeedsStayExact() throws {
        let manifest = try parse(#"{"objective": "generate", "train": {"seed": 9007199254740993}}"#)
        #expect(manifest.train.seed == 9_007_199_254_740_993)
    }

    @Test(arguments: [
        // Syntax and unknown keys.
        (#"{"objective": "generate""#, "JSON"),
        (#"["objective"]"#, "object"),
        (#"{"objective": "generate", "epsilom": 8}"#, "epsilom"),
        (#"{"objective": "generate", "privacy": {"epsilom": 8}}"#, "privacy.epsilom"),
        (#"{"objective": "generate", "train": {"batch": 8}}"#, "train.batch"),
        // Types.
        (#"{"objective": "generate", "account": 3}"#, "account"),
        (#"{"objective": "regress"}"#, "objective"),
        (#"{"objective": "generate", "privacy": {"epsilon": "8"}}"#, "privacy.epsilon"),
        (#"{"objective": "generate", "privacy": {"unit": "user"}}"#, "privacy.unit"),
        (#"{"objective": "generate", "privacy": {"accountant": "moments"}}"#, "privacy.accountant"),
        (#"{"objective": "generate", "privacy": 8}"#, "privacy"),
        (#"{"objective": "generate", "train": {"epochs": 2.5}}"#, "train.epochs"),
        (#"{"objective": "generate", "train": {"epochs": true}}"#, "train.epochs"),
        (#"{"objective": "generate", "train": {"seed": -1}}"#, "train.seed"),
        (#"{"objective": "generate", "strategy_options": [1]}"#, "strategy_options"),
        (#"{"objective": "generate", "hyperparameters_tuned": "yes"}"#, "hyperparameters_tuned"),
        (#"{"labels": {"sentiment": "positive"}}"#, "labels.sentiment"),
        (#"{"labels": {"sentiment": ["a", "a"]}}"#, "labels.sentiment"),
        (#"{"labels": {"sentiment": []}}"#, "labels.sentiment"),
        (#"{"labels": {"sentiment": [1]}}"#, "labels.sentiment"),
        // Ranges.
        (#"{"objective": "generate", "privacy": {"epsilon": 0}}"#, "privacy.epsilon"),
        (#"{"objective": "generate", "privacy": {"epsilon": -1}}"#, "privacy.epsilon"),
        (#"{"objective": "generate", "privacy": {"delta": 0}}"#, "privacy.delta"),
        (#"{"objective": "generate", "privacy": {"delta": 1}}"#, "privacy.delta"),
        (#"{"objective": "generate", "train": {"epochs": 0}}"#, "train.epochs"),
        (#"{"objective": "generate", "train": {"expected_batch": 0}}"#, "train.expected_batch"),
        (#"{"objective": "generate", "train": {"lr": 0}}"#, "train.lr"),
        (#"{"objective": "generate", "train": {"clip": -0.5}}"#, "train.clip"),
        (#"{"objective": "generate", "train": {"max_len": 7}}"#, "train.max_len"),
        (#"{"objective": "classify"}"#, "labels"),
        (#"{"objective": "generate", "account": ""}"#, "account"),
        (#"{"objective": "generate", "insecure_reproducible_noise": true}"#, "insecure_reproducible_noise"),
        (#"{"labels": {"s": ["a", "b"]}, "train": {"head_init": "zeros"}}"#, "train.head_init"),
        (#"{"objective": "generate", "train": {"head_init": "label_names"}}"#, "train.head_init"),
        (#"{"labels": {"s": ["a", "b"]}, "train": {"instruction": "drop"}}"#, "train.instruction"),
        (#"{"objective": "generate", "train": {"instruction": "omit"}}"#, "train.instruction"),
    ])
    func invalidManifestsNameTheKey(text: String, key: String) {
        let error = #expect(throws: IntakeError.self) { try parse(text) }
        #expect(error?.code == .invalidManifest)
        #expect(error?.message.contains(key) == true, "\(error?.message ?? "no error") should name \(key)")
    }

    /// A key given twice in one object is read differently by different decoders (ours
    /// keeps the first, many keep the last): refused, however it is spelt, at any depth.
    @Test(arguments: [
        #"{"account": "a", "account": "b", "labels": {"s": ["x", "y"]}}"#,
        #"{"labels": {"s": ["x", "y"]}, "privacy": {"epsilon": 1, "epsilon": 100}}"#,
        #"{"labels": {"s": ["x", "y"]}, "privacy": {"epsilon": 1, "eps\u0069lon": 100}}"#,
        #"{"labels": {"s": ["x", "y"]}, "strategy_options": {"m": [{"k": 1, "k": 2}]}}"#,
    ])
    func aKeyGivenTwiceInOneObjectIsRefused(text: String) {
        let error = #expect(throws: IntakeError.self) { try parse(text) }
        #expect(error?.code == .invalidManifest)
        #expect(error?.message.contains("twice in one object") == true, "\(error?.message ?? "")")
    }

    /// The same key in different objects, or a value spelt like a key, is no repetition.
    @Test func theSameKeyInDifferentObjectsIsFine() throws {
        let manifest = try parse(#"""
            {"account": "account", "labels": {"s": ["s", "labels"], "t": ["s", "t"]},
             "strategy_options": {"m": [{"k": 1}, {"k": 2}], "n": {"k": "k,\"k\""}}}
            """#)
        #expect(manifest.account == "account")
        #expect(manifest.labels["t"] == ["s", "t"])
    }

    @Test func aMissingAccountWithoutDefaultIsRefused() {
        let error = #expect(throws: IntakeError.self) {
            try parse(#"{"objective": "generate"}"#, defaults: ManifestDefaults(backbone: "b", strategy: "s"))
        }
        #expect(error?.code == .invalidManifest)
        #expect(error?.message.contains("account") == true)
    }

    @Test func insecureNoiseOnlyWhereTheDefaultsAllowIt() throws {
        var defaults = Self.defaults
        defaults.allowInsecureReproducibleNoise = true
        let manifest = try parse(#"{"objective": "generate", "insecure_reproducible_noise": true}"#, defaults: defaults)
        #expect(manifest.insecureReproducibleNoise)
    }
}
