// SPDX-License-Identifier: Apache-2.0
// The C entry points and ABI note every dptune plugin carries (DESIGN §5.3).
import AdapterKit

@section(".dptune_abi") @used
let dptuneABINote: (UInt64, Int32, Int32) = (0x4241_454E_5554_5044, 3, 0)

@_cdecl("dptune_plugin_abi_version") public func dptunePluginABIVersion() -> Int32 { 3 }

@_cdecl("dptune_plugin_entry") public func dptunePluginEntry() -> UnsafeMutableRawPointer {
    PluginExport.retain(BiTFiTStrategy())
}
