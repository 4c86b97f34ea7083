// SPDX-License-Identifier: Apache-2.0
// A second build of the bundled LoRA plugin for the hot-swap tests: the same strategy
// (LoRAStrategy.swift is a link to Plugins/LoRA's), reporting another version, so a test can
// tell which build trained a job.
import AdapterKit
import Transformer

@section(".dptune_abi") @used
let dptuneABINote: (UInt64, Int32, Int32) = (0x4241_454E_5554_5044, 3, 0)

@_cdecl("dptune_plugin_abi_version") public func dptunePluginABIVersion() -> Int32 { 3 }

@_cdecl("dptune_plugin_entry") public func dptunePluginEntry() -> UnsafeMutableRawPointer {
    PluginExport.retain(NextLoRAStrategy())
}

/// ``LoRAStrategy`` in every respect but its version.
final class NextLoRAStrategy: AdapterStrategy {
    static let version = "1.1.0-test"

    private let base = LoRAStrategy()
    var id: String { base.id }
    var version: String { Self.version }
    var summary: String { base.summary }
    var options: [StrategyOption] { base.options }
    var mechanismKind: MechanismKind { base.mechanismKind }

    func makeAdapter(backbone: any Backbone, configuration: AdapterConfiguration) throws -> any Adapter {
        try base.makeAdapter(backbone: backbone, configuration: configuration)
    }
}
