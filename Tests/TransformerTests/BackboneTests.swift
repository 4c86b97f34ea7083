// SPDX-License-Identifier: Apache-2.0
import Foundation
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
}
