// SPDX-License-Identifier: Apache-2.0
// A plugin that never returns its strategy, ignoring SIGTERM as plugin code may.
#if canImport(Glibc)
import Glibc
#endif

@section(".dptune_abi") @used
let dptuneABINote: (UInt64, Int32, Int32) = (0x4241_454E_5554_5044, 3, 0)

@_cdecl("dptune_plugin_abi_version") public func dptunePluginABIVersion() -> Int32 { 3 }

@_cdecl("dptune_plugin_entry") public func dptunePluginEntry() -> UnsafeMutableRawPointer {
    signal(SIGTERM, SIG_IGN)
    while true { sleep(3600) }
}
