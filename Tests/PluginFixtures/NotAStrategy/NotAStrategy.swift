// SPDX-License-Identifier: Apache-2.0
// A plugin whose entry point returns an object that is not an AdapterStrategy.
@section(".dptune_abi") @used
let dptuneABINote: (UInt64, Int32, Int32) = (0x4241_454E_5554_5044, 3, 0)

@_cdecl("dptune_plugin_abi_version") public func dptunePluginABIVersion() -> Int32 { 3 }

final class Unrelated {}

@_cdecl("dptune_plugin_entry") public func dptunePluginEntry() -> UnsafeMutableRawPointer {
    Unmanaged.passRetained(Unrelated()).toOpaque()
}
