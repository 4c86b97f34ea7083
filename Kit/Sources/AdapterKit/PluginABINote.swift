// SPDX-License-Identifier: Apache-2.0
import Foundation

/// The note every plugin carries in its ELF section `.dptune_abi`, read before loading.
///
/// A plugin declares it in its own source, so the version is a literal compiled into
/// the plugin (reading the constant from AdapterKit at run time would read the host's
/// copy and always match):
///
/// ```swift
/// @section(".dptune_abi") @used
/// let dptuneABINote: (UInt64, Int32, Int32) = (0x4241_454E_5554_5044, 2, 0)
/// @_cdecl("dptune_plugin_abi_version") public func dptunePluginABIVersion() -> Int32 { 2 }
/// @_cdecl("dptune_plugin_entry") public func dptunePluginEntry() -> UnsafeMutableRawPointer {
///     PluginExport.retain(MyStrategy())
/// }
/// ```
///
/// Layout (16 bytes, little-endian):
///
/// ```
///  0        8            12           16
///  +--------+------------+------------+
///  | magic  | ABI version| reserved 0 |
///  +--------+------------+------------+
///  "DPTUNEAB"   Int32        Int32
/// ```
struct PluginABINote: Equatable {
    /// "DPTUNEAB" read as a little-endian 64-bit integer.
    static let magic: UInt64 = 0x4241_454E_5554_5044
    static let sectionName = ".dptune_abi"
    static let size = 16

    let abiVersion: Int32

    /// - Returns: nil if `bytes` is not a note (wrong size or magic).
    init?(bytes: Data) {
        guard bytes.count == Self.size else { return nil }
        let words = bytes.withUnsafeBytes { raw in
            (raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian,
             raw.loadUnaligned(fromByteOffset: 8, as: Int32.self).littleEndian)
        }
        guard words.0 == Self.magic else { return nil }
        abiVersion = words.1
    }
}
