// SPDX-License-Identifier: Apache-2.0
@testable import Daemon
import AdapterKit
import Foundation
import Records
import Testing
import Transformer

@Suite struct LedgerAdmissionPolicyTests {
    /// Only a refusal of the budget is `budget_exhausted`; a ledger that cannot answer for
    /// another reason (here: a job id it has already admitted) says so, so a data owner is
    /// never told their budget is gone when it is not.
    @Test func onlyABudgetRefusalIsBudgetExhausted() throws {
        let world = try DaemonWorld()
        let (ledger, defaults) = (world.ledger, Self.defaults(world))
        let manifest = try Manifest.parse(Data(DaemonFixture.manifest(account: "acme").utf8), defaults: defaults)
        let dataset = DatasetSummary(sha256: String(repeating: "ab", count: 32), byteCount: 1_000, recordCount: 200,
                                     unitCount: 0, taskCounts: ["sentiment": 200], privacyUnitCount: 200)
        func policy() throws -> LedgerAdmissionPolicy {
            try LedgerAdmissionPolicy(backbones: ["tiny"], strategies: ["lora"], ledger: ledger,
                                      spoolName: "reviews.jsonl", heldOutFraction: 0.1, jobID: "job-1")
        }
        let first = try policy()
        try first.admit(account: "acme", manifest: manifest, dataset: dataset)
        #expect(first.admitted?.jobID == "job-1")

        let again = #expect(throws: IntakeError.self) { try policy().admit(account: "acme", manifest: manifest, dataset: dataset) }
        #expect(again?.code == .admissionFailed)

        let poor = try Manifest.parse(Data(DaemonFixture.manifest(account: "poor", epsilon: 4).utf8), defaults: defaults)
        let refused = #expect(throws: IntakeError.self) {
            try LedgerAdmissionPolicy(backbones: ["tiny"], strategies: ["lora"], ledger: ledger, spoolName: "big.jsonl",
                                      heldOutFraction: 0.1, jobID: "job-2").admit(account: "poor", manifest: poor, dataset: dataset)
        }
        #expect(refused?.code == .budgetExhausted)
    }

    /// The account's filter states its guarantee over all its jobs at its δ cap; a dataset
    /// of N ≥ 1/δ_cap records would be covered by a guarantee that lets a record leak, even
    /// when the job's own δ is below 1/N. Refused before the ledger is asked; nothing charged.
    @Test func anAccountWhoseDeltaCapIsNotBelowOneOverNIsRefused() throws {
        let world = try DaemonWorld()
        let (ledger, defaults) = (world.ledger, Self.defaults(world))
        let manifest = try Manifest.parse(
            Data(DaemonFixture.manifest(account: "acme").replacingOccurrences(of: "1e-5", with: "1e-7").utf8), defaults: defaults)
        func admit(records: Int) throws -> LedgerAdmissionPolicy {
            let dataset = DatasetSummary(sha256: String(repeating: "ef", count: 32), byteCount: 1_000, recordCount: records,
                                         unitCount: 0, taskCounts: ["sentiment": records], privacyUnitCount: records)
            let policy = try LedgerAdmissionPolicy(backbones: ["tiny"], strategies: ["lora"], ledger: ledger,
                                                   spoolName: "r\(records).jsonl", heldOutFraction: 0.1, jobID: "job-\(records)")
            try policy.admit(account: "acme", manifest: manifest, dataset: dataset)
            return policy
        }
        let refused = #expect(throws: IntakeError.self) { _ = try admit(records: 100_000) }
        #expect(refused?.code == .deltaTooLarge)
        #expect(refused?.message.contains("account acme's δ cap 1e-05") == true, "\(refused?.message ?? "")")
        #expect(try ledger.charges(account: "acme").isEmpty)
        #expect(try admit(records: 99_999).admitted?.jobID == "job-99999")
    }

    /// A forward-perturbation strategy is charged its own per-record event (the Gaussian
    /// release of the representation, then randomized response on the smallest label set),
    /// with the label share from the manifest or the plugin's declared default.
    @Test func forwardPerturbationIsPricedAsThePluginWillRunIt() throws {
        let world = try DaemonWorld()
        let (ledger, defaults) = (world.ledger, Self.defaults(world))
        let dataset = DatasetSummary(sha256: String(repeating: "cd", count: 32), byteCount: 1_000, recordCount: 200,
                                     unitCount: 0, taskCounts: ["sentiment": 200], privacyUnitCount: 200)
        let catalog = StrategyCatalog(ids: ["dp-forward"], forwardLabelShares: ["dp-forward": 0.25])
        for (job, options, share) in [("job-f1", "", 0.25), ("job-f2", #", "strategy_options": {"label_epsilon_share": 0.5}"#, 0.5)] {
            let text = DaemonFixture.manifest(account: "acme", strategy: "dp-forward").replacingOccurrences(
                of: #""train": {"epochs": 1, "expected_batch": 20}"#, with: #""train": {"epochs": 1, "expected_batch": 20}"# + options)
            let manifest = try Manifest.parse(Data(text.utf8), defaults: defaults)
            let policy = try LedgerAdmissionPolicy(backbones: ["tiny"], strategies: catalog, ledger: ledger,
                                                   spoolName: "\(job).jsonl", heldOutFraction: 0.1, jobID: job)
            try policy.admit(account: "acme", manifest: manifest, dataset: dataset)
            let charged = try #require(try ledger.charges(account: "acme").first { $0.jobID == job })
            let expected = try ForwardPerturbationBudget(epsilon: 2, delta: 1e-5, labelShare: share).event(labelCounts: [2])
            #expect(charged.event == expected)
            // The job record keeps the share, so the worker can refuse a build that splits ε otherwise.
            #expect(policy.admitted?.labelShare == share)
        }
    }

    /// A one-label task's randomized response releases nothing, so it must not set the
    /// price: with tasks of one and of two labels, the charge is the binary response's.
    @Test func aOneLabelTaskDoesNotMakeTheLabelReleaseFree() throws {
        let world = try DaemonWorld()
        let (ledger, defaults) = (world.ledger, Self.defaults(world))
        let text = DaemonFixture.manifest(account: "acme", strategy: "dp-forward").replacingOccurrences(
            of: #""labels": {"sentiment": ["negative", "positive"]}"#,
            with: #""labels": {"only": ["yes"], "sentiment": ["negative", "positive"]}"#)
        let manifest = try Manifest.parse(Data(text.utf8), defaults: defaults)
        #expect(manifest.labels["only"] == ["yes"])
        let dataset = DatasetSummary(sha256: String(repeating: "a1", count: 32), byteCount: 1_000, recordCount: 200,
                                     unitCount: 0, taskCounts: ["only": 100, "sentiment": 100], privacyUnitCount: 200)
        let policy = try LedgerAdmissionPolicy(
            backbones: ["tiny"], strategies: StrategyCatalog(ids: ["dp-forward"], forwardLabelShares: ["dp-forward": 0.25]),
            ledger: ledger, spoolName: "two-tasks.jsonl", heldOutFraction: 0.1, jobID: "job-k")
        try policy.admit(account: "acme", manifest: manifest, dataset: dataset)
        let charged = try #require(try ledger.charges(account: "acme").first { $0.jobID == "job-k" })
        let budget = try ForwardPerturbationBudget(epsilon: 2, delta: 1e-5, labelShare: 0.25)
        #expect(charged.event == .composed([.gaussian(noiseMultiplier: try budget.featureNoiseMultiplier()),
                                            .randomizedResponse(k: 2, epsilon: 0.5)]))
    }

    /// Under `privacy.unit` `unit` a forward-perturbation strategy would release every
    /// record of a unit, which one record's charge does not cover: refused before the ledger.
    @Test func forwardPerturbationUnderUnitPrivacyIsRefusedWithoutACharge() throws {
        let world = try DaemonWorld()
        let (ledger, defaults) = (world.ledger, Self.defaults(world))
        let text = DaemonFixture.manifest(account: "acme", strategy: "dp-forward").replacingOccurrences(
            of: #""accountant": "rdp"}"#, with: #""accountant": "rdp", "unit": "unit"}"#)
        let manifest = try Manifest.parse(Data(text.utf8), defaults: defaults)
        #expect(manifest.privacy.unit == .unit)
        let dataset = DatasetSummary(sha256: String(repeating: "a2", count: 32), byteCount: 1_000, recordCount: 200,
                                     unitCount: 40, taskCounts: ["sentiment": 200], privacyUnitCount: 40)
        let policy = try LedgerAdmissionPolicy(
            backbones: ["tiny"], strategies: StrategyCatalog(ids: ["dp-forward"], forwardLabelShares: ["dp-forward": 0.25]),
            ledger: ledger, spoolName: "users.jsonl", heldOutFraction: 0.1, jobID: "job-u")
        let refused = #expect(throws: IntakeError.self) { try policy.admit(account: "acme", manifest: manifest, dataset: dataset) }
        #expect(refused?.code == .invalidManifest)
        #expect(refused?.message.contains("privacy.unit") == true)
        #expect(try ledger.charges(account: "acme").isEmpty)
    }

    /// A forward-perturbation strategy with objective `generate` is refused before the
    /// ledger is asked, so nothing is charged; the worker used to find out after admission.
    @Test func forwardPerturbationForGenerationIsRefusedWithoutACharge() throws {
        let world = try DaemonWorld()
        let (ledger, defaults) = (world.ledger, Self.defaults(world))
        let text = DaemonFixture.manifest(account: "acme", strategy: "dp-forward", generate: true)
        let manifest = try Manifest.parse(Data(text.utf8), defaults: defaults)
        #expect(manifest.objective == .generate)
        let dataset = DatasetSummary(sha256: String(repeating: "ef", count: 32), byteCount: 1_000, recordCount: 200,
                                     unitCount: 0, taskCounts: [DatasetSummary.untaskedKey: 200], privacyUnitCount: 200)
        let policy = try LedgerAdmissionPolicy(
            backbones: ["tiny"], strategies: StrategyCatalog(ids: ["dp-forward"], forwardLabelShares: ["dp-forward": 0.25]),
            ledger: ledger, spoolName: "chat.jsonl", heldOutFraction: 0.1, jobID: "job-g")
        let refused = #expect(throws: IntakeError.self) { try policy.admit(account: "acme", manifest: manifest, dataset: dataset) }
        #expect(refused?.code == .invalidManifest)
        #expect(refused?.message.contains("objective generate") == true)
        #expect(try ledger.charges(account: "acme").isEmpty)
    }

    /// An objective on a backbone of another family is refused before the ledger is asked:
    /// `generate` on a BERT encoder and `classify` (the default objective) on a Llama
    /// decoder; a backbone whose family intake could not read is left to the worker.
    @Test func anObjectiveOnAnotherFamilyIsRefusedWithoutACharge() throws {
        let world = try DaemonWorld()
        let (ledger, defaults) = (world.ledger, Self.defaults(world))
        let generate = try Manifest.parse(Data(DaemonFixture.manifest(account: "acme", generate: true).utf8), defaults: defaults)
        let classify = try Manifest.parse(Data(DaemonFixture.manifest(account: "acme").utf8), defaults: defaults)
        #expect(classify.objective == .classify)
        func policy(family: BackboneFamily?, job: String) throws -> LedgerAdmissionPolicy {
            try LedgerAdmissionPolicy(backbones: ["tiny"], backboneFamilies: family.map { ["tiny": $0] } ?? [:],
                                      strategies: ["lora"], ledger: ledger, spoolName: "\(job).jsonl",
                                      heldOutFraction: 0.1, jobID: job)
        }
        for (manifest, family, expected) in [(generate, BackboneFamily.bertEncoder, "needs a Llama-family decoder"),
                                             (generate, .gpt2Decoder, "needs a Llama-family decoder"),
                                             (classify, .llamaDecoder, "needs a BERT encoder")] {
            let refused = #expect(throws: IntakeError.self) {
                try policy(family: family, job: "job-\(family)").admit(account: "acme", manifest: manifest, dataset: Self.dataset)
            }
            #expect(refused?.code == .invalidManifest)
            #expect(refused?.message.contains(expected) == true, "\(refused?.message ?? "")")
        }
        #expect(try ledger.charges(account: "acme").isEmpty)
        try policy(family: nil, job: "job-u").admit(account: "acme", manifest: generate, dataset: Self.dataset)
        try policy(family: .bertEncoder, job: "job-c").admit(account: "acme", manifest: classify, dataset: Self.dataset)
        #expect(try ledger.charges(account: "acme").map(\.jobID).sorted() == ["job-c", "job-u"])
    }

    /// `strategy_options` are checked against the plugin's declared options before the
    /// ledger is asked: an unknown name or a value of the wrong kind is an invalid manifest
    /// that charges nothing; a valid one is admitted.
    @Test func badStrategyOptionsAreRefusedWithoutACharge() throws {
        let world = try DaemonWorld()
        let (ledger, defaults) = (world.ledger, Self.defaults(world))
        let catalog = StrategyCatalog(ids: ["lora"], optionSchemas: ["lora": [
            StrategyOption(name: "rank", kind: .integer, defaultJSON: "8", help: "the rank"),
            StrategyOption(name: "target_modules", kind: .stringList, defaultJSON: #"["query", "value"]"#, help: "the modules"),
        ]])
        func admit(_ options: String, job: String) throws {
            let text = DaemonFixture.manifest(account: "acme").replacingOccurrences(
                of: #""train": {"epochs": 1, "expected_batch": 20}"#,
                with: #""train": {"epochs": 1, "expected_batch": 20}, "strategy_options": "# + options)
            try LedgerAdmissionPolicy(backbones: ["tiny"], strategies: catalog, ledger: ledger, spoolName: "\(job).jsonl",
                                      heldOutFraction: 0.1, jobID: job)
                .admit(account: "acme", manifest: Manifest.parse(Data(text.utf8), defaults: defaults), dataset: Self.dataset)
        }
        for (options, expected) in [(#"{"rnak": 4}"#, #"unknown strategy option "rnak" (known: rank, target_modules)"#),
                                    (#"{"rank": 4.5}"#, "strategy option rank (manifest) must be integer"),
                                    (#"{"target_modules": "query"}"#, "strategy option target_modules (manifest) must be string_list")] {
            let refused = #expect(throws: IntakeError.self) { try admit(options, job: "job-bad") }
            #expect(refused?.code == .invalidManifest)
            #expect(refused?.message.hasPrefix("strategy lora: " + expected) == true, "\(refused?.message ?? "")")
        }
        #expect(try ledger.charges(account: "acme").isEmpty)
        try admit(#"{"rank": 4, "target_modules": ["query"]}"#, job: "job-good")
        #expect(try ledger.charges(account: "acme").map(\.jobID) == ["job-good"])
    }

    /// The preflight runs after the daemon's own checks and before the ledger: its refusal
    /// charges nothing, its clean answer lets the ledger admit; a strategy without a stored
    /// build in the catalog is not prepared.
    @Test func thePreflightDecidesBeforeTheLedger() throws {
        let world = try DaemonWorld()
        let (ledger, defaults) = (world.ledger, Self.defaults(world))
        let manifest = try Manifest.parse(Data(DaemonFixture.manifest(account: "acme").utf8), defaults: defaults)
        func admit(_ script: String, pluginFiles: [String: URL], job: String) throws {
            let (executable, directory) = try ShortLivedChildTests.script(script)
            let preflight = JobPreflight(executable: executable,
                                         config: ChildConfig(original: directory.url.appendingPathComponent("dptuned.toml"), copy: nil),
                                         stagingDirectory: directory.url)
            try withExtendedLifetime(directory) {
                try LedgerAdmissionPolicy(backbones: ["tiny"], strategies: StrategyCatalog(ids: ["lora"], pluginFiles: pluginFiles),
                                          preflight: preflight, ledger: ledger, spoolName: "\(job).jsonl",
                                          heldOutFraction: 0.1, jobID: job)
                    .admit(account: "acme", manifest: manifest, dataset: Self.dataset)
            }
        }
        let lora = ["lora": URL(fileURLWithPath: "/plugins/liblora.so")]
        let refusing = #"echo '{"refusal": "invalid_option: rank must be at least 1"}'; exit 1"#
        let refused = #expect(throws: IntakeError.self) { try admit(refusing, pluginFiles: lora, job: "job-r") }
        #expect(refused?.code == .preparationFailed)
        #expect(try ledger.charges(account: "acme").isEmpty)
        try admit(refusing, pluginFiles: [:], job: "job-n")
        try admit("echo '{}'", pluginFiles: lora, job: "job-p")
        #expect(try ledger.charges(account: "acme").map(\.jobID).sorted() == ["job-n", "job-p"])
    }

    /// The config's manifest defaults, with account `acme`.
    private static func defaults(_ world: DaemonWorld) -> ManifestDefaults {
        var defaults = world.fixture.config.defaults
        defaults.account = "acme"
        return defaults
    }

    private static let dataset = DatasetSummary(
        sha256: String(repeating: "12", count: 32), byteCount: 1_000, recordCount: 200, unitCount: 0,
        taskCounts: ["sentiment": 200], privacyUnitCount: 200)
}
