// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Foundation
import Linalg
import Testing
import TestSupport
import Transformer

@Suite struct BiTFiTPluginTests {
    init() { BLAS.setThreadCount(2) }

    static let sharedAbsent = SharedFixtures.mayBeSkipped

    @Test func refusesABackboneWithoutBiases() throws {
        let strategy = try bundledStrategy("BiTFiT")
        #expect(strategy.id == "bitfit" && strategy.options.isEmpty)
        do {
            _ = try strategy.makeAdapter(backbone: SiteListBackbone.llamaLike(), configuration: try jobConfiguration(strategy))
            Issue.record("bitfit accepted a backbone without biases")
        } catch let error as AdapterError {
            #expect(error.code == .unsupportedBackbone)
            #expect(error.message.contains("bitfit needs bias terms") && error.message.contains("SiteListBackbone"), "\(error)")
        }
    }

    /// One shift per dense layer and per layer norm, named after the checkpoint bias it shifts.
    @Test(.disabled(if: sharedAbsent, Comment(rawValue: SharedFixtures.skipMessage)))
    func declaresEveryBiasOfMiniLM() throws {
        let strategy = try bundledStrategy("BiTFiT")
        let encoder = try miniLM()
        let adapter = try strategy.makeAdapter(backbone: encoder, configuration: try jobConfiguration(strategy))
        #expect(adapter.mechanism == .gradientPerturbation)
        let parameters = TrainableParameters()
        adapter.declareParameters(in: parameters)
        let names = Set(parameters.segments.map(\.name))
        #expect(parameters.segments.count == 6 * 6 + 1 + 6 * 2)
        #expect(names.contains("encoder.layer.3.attention.self.query.bias"))
        #expect(names.contains("encoder.layer.5.intermediate.dense.bias"))
        #expect(names.contains("embeddings.LayerNorm.bias") && names.contains("encoder.layer.0.output.LayerNorm.bias"))
        let weights = try SafetensorsFile(url: SharedFixtures.url("models/minilm-l6/model.safetensors"))
        for segment in parameters.segments {
            let entry = try #require(weights.entries[segment.name] ?? weights.entries["bert." + segment.name], "\(segment.name)")
            #expect(entry.shape == segment.shape, "\(segment.name)")
        }
        // 6 blocks · (4·384 + 1536 + 384 + 2·384) + 384 for the embedding norm
        #expect(parameters.count == 6 * (4 * 384 + 1536 + 384 + 2 * 384) + 384)
    }

    @Test(.disabled(if: sharedAbsent, Comment(rawValue: SharedFixtures.skipMessage)))
    func perSampleGradientsOnMiniLM() throws {
        let strategy = try bundledStrategy("BiTFiT")
        let encoder = try miniLM()
        let adapter = try strategy.makeAdapter(backbone: encoder, configuration: try jobConfiguration(strategy))
        let ids: [Int32] = [101, 2023, 3185, 2001, 102, 101, 6659, 102, 0, 0]
        expectAdapterGradientsMatchBatchesOfOneAndFiniteDifferences(adapter, backbone: encoder, ids: ids, lengths: [5, 3],
                                                                    T: 5, seed: 31, probes: 12)
    }

    /// GPT-2 (pre-LN, Conv1D storage, a final norm) through the same check.
    @Test(.disabled(if: sharedAbsent, Comment(rawValue: SharedFixtures.skipMessage)))
    func perSampleGradientsOnTinyGPT2() throws {
        let strategy = try bundledStrategy("BiTFiT")
        let gpt2 = try GPT2Model(directory: SharedFixtures.url("models/tiny-gpt2"))
        let parameters = TrainableParameters()
        try strategy.makeAdapter(backbone: gpt2, configuration: try jobConfiguration(strategy)).declareParameters(in: parameters)
        #expect(parameters.segments.last?.name == "transformer.ln_f.bias")
        let adapter = try strategy.makeAdapter(backbone: gpt2, configuration: try jobConfiguration(strategy))
        let ids: [Int32] = [5, 17, 42, 9, 3, 8, 11, 0]
        expectAdapterGradientsMatchBatchesOfOneAndFiniteDifferences(adapter, backbone: gpt2, ids: ids, lengths: [4, 2],
                                                                    T: 4, seed: 32, probes: 16)
    }
}
