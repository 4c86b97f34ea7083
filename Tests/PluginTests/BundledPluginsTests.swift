// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Foundation
import Testing
import TestSupport

/// Every plugin the project ships loads through the real loader, from its built file,
/// and answers with the id manifests use.
@Suite struct BundledPluginsTests {
    static let bundled = ["LoRA": "lora", "BiTFiT": "bitfit", "DPForward": "dp-forward", "AnaDP": "anadp",
                          "Projected": "projected"]

    @Test func eachBundledPluginLoadsWithItsId() throws {
        let staging = FileManager.default.temporaryDirectory.appendingPathComponent("staging-\(UUID().uuidString)")
        let loader = try PluginLoader(stagingDirectory: staging)
        for (product, id) in Self.bundled {
            let plugin = try loader.load(BuildProducts.library(product))
            #expect(plugin.strategy.id == id, "lib\(product).so")
            #expect(plugin.abiVersion == adapterKitABIVersion)
            #expect(!plugin.strategy.summary.isEmpty)
        }
        #expect(Set(loader.plugins.values.map(\.strategy.id)) == Set(Self.bundled.values))
    }
}
