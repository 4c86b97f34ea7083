// SPDX-License-Identifier: Apache-2.0
// A minimal plugin for the loader tests; EchoV1 and EchoV2 are two builds of one strategy.
import AdapterKit
import Transformer

@section(".dptune_abi") @used
let dptuneABINote: (UInt64, Int32, Int32) = (0x4241_454E_5554_5044, 3, 0)

@_cdecl("dptune_plugin_abi_version") public func dptunePluginABIVersion() -> Int32 { 3 }

@_cdecl("dptune_plugin_entry") public func dptunePluginEntry() -> UnsafeMutableRawPointer {
    PluginExport.retain(EchoStrategy())
}

final class EchoStrategy: AdapterStrategy {
    let id = "echo"
    let version = "2.0.0"
    let summary = "test fixture, build 2"
    /// Build 2 adds an option, so a test can see which build's declarations intake checks.
    let options = [StrategyOption(name: "gain", kind: .number, defaultJSON: "1", help: "unused")]

    func makeAdapter(backbone: any Backbone, configuration: AdapterConfiguration) throws -> any Adapter {
        throw AdapterError(.unsupportedBackbone, "echo is a plugin-loader test fixture and trains nothing")
    }
}
