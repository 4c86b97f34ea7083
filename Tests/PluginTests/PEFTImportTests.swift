// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Foundation
import Linalg
import Testing
import TestSupport
import Transformer

/// Adapters cross between dptune and Hugging Face PEFT in both directions.
@Suite struct PEFTImportTests {
    init() { BLAS.setThreadCount(2) }

    static let sharedAbsent = SharedFixtures.mayBeSkipped
    static let folder = "testvectors/peft-lora-minilm"

    /// A PEFT LoRA adapter (r 4, alpha 8, query+value, trained by PEFT 0.21.2) run through
    /// the real `lora` plugin on MiniLM reproduces PEFT's hidden states.
    @Test(.disabled(if: sharedAbsent, Comment(rawValue: SharedFixtures.skipMessage)))
    func peftAdapterReproducesPEFTHiddenStates() throws {
        let peft = try PEFTLoRAConfiguration(json: Data(contentsOf: SharedFixtures.url(Self.folder + "/adapter_config.json")))
        #expect(peft.rank == 4 && peft.alpha == 8 && peft.scale == 2 && Set(peft.targetModules) == ["query", "value"])
        let strategy = try bundledStrategy("LoRA")
        let encoder = try miniLM()
        let adapter = try strategy.makeAdapter(backbone: encoder,
                                               configuration: try jobConfiguration(strategy, optionsJSON: peft.strategyOptionsJSON))
        let parameters = TrainableParameters()
        adapter.declareParameters(in: parameters)
        var generator = SeededGenerator(seed: 1)
        parameters.seal(generator: &generator)
        try parameters.load(from: SafetensorsFile(url: SharedFixtures.url(Self.folder + "/adapter_model.safetensors")))
        #expect(parameters.segments.count == 24)

        let expected = try #require(try SharedFixtures.json(Self.folder + "/expected.json") as? [String: Any])
        let ids = try #require(expected["input_ids"] as? [[Int]]), mask = try #require(expected["attention_mask"] as? [[Int]])
        let shape = try #require(expected["shape"] as? [Int])
        let want = try #require(expected["last_hidden_state"] as? [NSNumber]).map(\.floatValue)
        let B = shape[0], T = shape[1]
        let flatIDs = ids.flatMap { $0.map(Int32.init) }, flatMask = mask.flatMap { $0.map(Int32.init) }
        let frozen = Array(encoder.forward(inputIDs: flatIDs, tokenTypeIDs: nil, attentionMask: flatMask, batch: B, seqLen: T))
        adapter.attach(to: encoder, parameters: parameters)
        let got = Array(encoder.forward(inputIDs: flatIDs, tokenTypeIDs: nil, attentionMask: flatMask, batch: B, seqLen: T))
        adapter.detach(from: encoder)

        // padding rows are unspecified: compare real tokens
        func maxDifference(_ a: [Float]) -> Float {
            let C = shape[2]
            return (0..<(B * T)).filter { flatMask[$0] != 0 }
                .map { n in (0..<C).map { abs(a[n * C + $0] - want[n * C + $0]) }.max() ?? 0 }.max() ?? 0
        }
        let error = maxDifference(got), adapterEffect = maxDifference(frozen)
        print("PEFT LoRA on MiniLM: max |Δ| = \(error); without the adapter \(adapterEffect)")
        #expect(want.count == got.count)
        #expect(error <= 1e-4, "max |Δ| = \(error)")
        #expect(adapterEffect > 1e-2, "the adapter must change the output for this test to mean anything")
    }

    /// What dptune publishes is a PEFT configuration PEFT's schema accepts, and reads back
    /// as the same adapter.
    @Test func exportedConfigurationIsPEFTsSchema() throws {
        let strategy = try bundledStrategy("LoRA")
        let backbone = SiteListBackbone.llamaLike()
        let adapter = try strategy.makeAdapter(backbone: backbone, configuration: try jobConfiguration(strategy, optionsJSON: #"{"rank": 4, "alpha": 16}"#))
        let exported = adapter.exportedConfiguration(baseModel: "HuggingFaceTB/SmolLM2-135M-Instruct")
        let required: [String: ConfigurationValue] = [
            "peft_type": .string("LORA"), "task_type": .string("CAUSAL_LM"), "r": .integer(4), "lora_alpha": .integer(16),
            "lora_dropout": .number(0), "target_modules": .array([.string("q_proj"), .string("v_proj")]), "bias": .string("none"),
            "fan_in_fan_out": .boolean(false), "init_lora_weights": .boolean(true), "inference_mode": .boolean(true),
            "base_model_name_or_path": .string("HuggingFaceTB/SmolLM2-135M-Instruct"), "modules_to_save": .null,
            "layers_to_transform": .null, "use_rslora": .boolean(false), "use_dora": .boolean(false), "revision": .null,
        ]
        #expect(exported == required)

        let text = try JSONSerialization.data(withJSONObject: Self.foundationValue(.object(exported)))
        let reread = try PEFTLoRAConfiguration(json: text)
        #expect(reread == PEFTLoRAConfiguration(rank: 4, alpha: 16, targetModules: ["q_proj", "v_proj"], layers: nil,
                                                baseModel: "HuggingFaceTB/SmolLM2-135M-Instruct", taskType: "CAUSAL_LM",
                                                fanInFanOut: false))
        let again = try strategy.makeAdapter(backbone: backbone,
                                             configuration: try jobConfiguration(strategy, optionsJSON: reread.strategyOptionsJSON))
        #expect(again.exportedConfiguration(baseModel: "HuggingFaceTB/SmolLM2-135M-Instruct") == exported)
    }

    /// Features dptune's LoRA would not reproduce are refused by name, not ignored.
    @Test(arguments: [
        (#""use_dora": true"#, "use_dora"), (#""use_rslora": true"#, "use_rslora"), (#""bias": "all""#, "bias"),
        (#""rank_pattern": {"query": 8}"#, "rank_pattern"), (#""peft_type": "IA3""#, "peft_type"),
        (#""target_modules": ".*query""#, "pattern"), (#""exclude_modules": ["value"]"#, "exclude_modules"),
    ])
    func unsupportedPEFTFeaturesAreRefused(members: String, name: String) throws {
        var members = members
        if !members.contains("peft_type") { members += #", "peft_type": "LORA""# }
        if !members.contains("target_modules") { members += #", "target_modules": ["query"]"# }
        let text = #"{"r": 4, "lora_alpha": 8, "# + members + "}"
        #expect {
            _ = try PEFTLoRAConfiguration(json: Data(text.utf8))
        } throws: { error in
            guard let error = error as? AdapterError else { return false }
            return error.code == .incompatibleParameters && error.message.contains(name)
        }
    }

    /// Parameters round-trip through a safetensors file; a file that does not fit (missing
    /// tensor, wrong shape, foreign tensor) is refused whole and changes nothing.
    @Test func parametersLoadByNameAndRefuseMismatches() throws {
        func makeParameters(seed: UInt64) -> TrainableParameters {
            let parameters = TrainableParameters()
            parameters.addSegment(name: "a.lora_A.weight", shape: [2, 3], initialization: .uniform(bound: 1))
            parameters.addSegment(name: "a.lora_B.weight", shape: [3, 2], initialization: .uniform(bound: 1))
            var generator = SeededGenerator(seed: seed)
            parameters.seal(generator: &generator)
            return parameters
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("peft-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func file(_ tensors: [String: Tensor], _ name: String) throws -> SafetensorsFile {
            let url = directory.appendingPathComponent(name)
            try SafetensorsFile.write(tensors, to: url)
            return try SafetensorsFile(url: url)
        }

        let source = makeParameters(seed: 1), target = makeParameters(seed: 2)
        let saved = source.namedTensors()
        try target.load(from: try file(saved, "good.safetensors"))
        #expect(Array(target.flatValues) == Array(source.flatValues))

        let fresh = makeParameters(seed: 3), before = Array(fresh.flatValues)
        var missing = saved
        missing["a.lora_B.weight"] = nil
        var reshaped = saved
        reshaped["a.lora_B.weight"] = saved["a.lora_B.weight"]?.reshaped([2, 3])
        var foreign = saved
        foreign["b.lora_A.weight"] = Tensor(shape: [1], data: [0])
        for (name, tensors, mention) in [("missing", missing, "no tensor a.lora_B.weight"),
                                         ("reshaped", reshaped, "has shape [2, 3]"),
                                         ("foreign", foreign, "b.lora_A.weight")] {
            #expect(throws: AdapterError(.incompatibleParameters, "")) {
                try fresh.load(from: try file(tensors, name + ".safetensors"))
            }
            do {
                try fresh.load(from: try file(tensors, name + ".safetensors"))
            } catch let error as AdapterError {
                #expect(error.message.contains(mention), "\(error)")
            }
            #expect(Array(fresh.flatValues) == before, "\(name): a refused file changed the parameters")
        }
    }

    static func foundationValue(_ value: ConfigurationValue) -> Any {
        switch value {
        case .null: NSNull()
        case .boolean(let flag): flag
        case .integer(let integer): integer
        case .number(let number): number
        case .string(let string): string
        case .array(let elements): elements.map(foundationValue)
        case .object(let members): members.mapValues(foundationValue)
        }
    }
}
