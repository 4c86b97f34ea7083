// SPDX-License-Identifier: Apache-2.0
import Foundation
import Linalg
import Testing
import Transformer

@Suite struct BackboneLoadingTests {
    @Test func loadBackboneChoosesTheFamilyFromTheConfig() throws {
        let bert = try SmallModels.bert(seed: 60), gpt2 = try SmallModels.gpt2(seed: 61)
        defer {
            try? FileManager.default.removeItem(at: bert)
            try? FileManager.default.removeItem(at: gpt2)
        }
        #expect(try loadBackbone(directory: bert) is BertEncoder)
        #expect(try loadBackbone(directory: gpt2) is GPT2Model)
        let sites = try loadBackbone(directory: gpt2).linearSites
        #expect(sites.map(\.module.shortName).prefix(4) == ["c_attn", "c_proj", "c_fc", "c_proj"])
        #expect(sites.first?.weightLayout == .inOut && sites.first?.outFeatures == 24)
    }

    /// Every family hands out each dense layer's weight exactly as the checkpoint stores
    /// it (the `projected` plugin derives its projection from it), and nothing for a site
    /// of another backbone.
    @Test(arguments: ["bert", "gpt2", "llama"])
    func frozenWeightsAreTheCheckpointsTensors(family: String) throws {
        let directory = try family == "bert" ? SmallModels.bert(seed: 66)
            : family == "gpt2" ? SmallModels.gpt2(seed: 67) : SmallModels.llamaDirectory(seed: 68)
        defer { try? FileManager.default.removeItem(at: directory) }
        let backbone = try loadBackbone(directory: directory)
        let file = try SafetensorsFile(url: directory.appendingPathComponent("model.safetensors"))
        for site in backbone.linearSites {
            let name = [site.parameterName, String(site.parameterName.dropFirst("transformer.".count))]
                .map { $0 + ".weight" }.first { file.entries[$0] != nil }
            let stored = try file.tensor(try #require(name, "\(site) has no tensor"))
            let expectedShape = site.weightLayout == .outIn ? [site.outFeatures, site.inFeatures] : [site.inFeatures, site.outFeatures]
            #expect(stored.shape == expectedShape, "\(site)")
            let weight = try #require(backbone.frozenWeight(of: site))
            #expect(Array(weight) == stored.scalars, "\(site)")
        }
        let foreign = LinearSite(layer: 0, module: .downProj, inFeatures: 3, outFeatures: 3, weightLayout: .outIn,
                                 parameterName: "elsewhere")
        #expect(backbone.frozenWeight(of: foreign) == nil)
    }
}

@Suite struct BackboneThreadingTests {
    /// Attention runs (batch, head) pairs and the per-sample products run samples on separate
    /// cores, each as it would run alone: one and two threads give the same bits for hidden
    /// states, weight gradients, per-sample bias gradients and per-sample norms.
    @Test(arguments: ["bert", "gpt2", "llama"])
    func threadCountDoesNotChangeForwardOrBackward(family: String) throws {
        let directory = try family == "bert" ? SmallModels.bert(seed: 62)
            : family == "gpt2" ? SmallModels.gpt2(seed: 63) : SmallModels.llamaDirectory(seed: 64)
        defer { try? FileManager.default.removeItem(at: directory) }
        let B = 5, T = 7
        let ids = (0..<(B * T)).map { Int32(($0 * 7 + 3) % 11) }
        let mask = (0..<(B * T)).map { Int32($0 % T < T - $0 / T % 3 ? 1 : 0) }
        func run(threads: Int) throws -> [[Float]] {
            BLAS.setThreadCount(threads)
            let backbone = try loadBackbone(directory: directory)
            let hook = RecordingHook()
            backbone.setHook(hook, for: try #require(backbone.linearSites.first))
            let hidden = Array(backbone.forward(inputIDs: ids, tokenTypeIDs: nil, attentionMask: mask, batch: B, seqLen: T))
            var rng = SeededGenerator(seed: 65)
            backbone.backward(lastHiddenGradient: randomFloats(B * T * backbone.hiddenSize, &rng))
            return [hidden, hook.weightGradient, hook.biasGradient, hook.perSampleBias, hook.ghostSquaredNorms,
                    hook.instantiatedSquaredNorms]
        }
        let serial = try run(threads: 1), parallel = try run(threads: 2)
        for (index, (a, b)) in zip(serial, parallel).enumerated() {
            #expect(a == b, "\(family): result \(index) differs between one and two threads")
        }
        #expect(serial.allSatisfy { !$0.isEmpty })
    }
}
