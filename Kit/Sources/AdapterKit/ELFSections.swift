// SPDX-License-Identifier: Apache-2.0
import Foundation

/// The named sections of an ELF64 little-endian file, read without loading it.
///
/// The plugin loader reads a plugin's ABI note and toolchain identity this way, before
/// any of its code runs. Every offset is bounds-checked: the file is untrusted input.
struct ELFSections {
    struct Malformed: Error {
        let reason: String
    }

    private let bytes: Data
    /// Section name → (offset, size) within the file.
    let sections: [String: (offset: Int, size: Int)]

    init(contentsOf url: URL) throws {
        try self.init(bytes: Data(contentsOf: url, options: .mappedIfSafe))
    }

    init(bytes: Data) throws {
        self.bytes = bytes
        guard bytes.count >= 64, bytes.prefix(4) == Data([0x7F, 0x45, 0x4C, 0x46]) else {
            throw Malformed(reason: "not an ELF file (bad magic)")
        }
        guard bytes[bytes.startIndex + 4] == 2, bytes[bytes.startIndex + 5] == 1 else {
            throw Malformed(reason: "not a 64-bit little-endian ELF file")
        }
        func read<T: FixedWidthInteger>(_ type: T.Type, at offset: Int) throws -> T {
            guard offset >= 0, offset + MemoryLayout<T>.size <= bytes.count else {
                throw Malformed(reason: "offset \(offset) beyond the end of the file (\(bytes.count) bytes)")
            }
            var value: T = 0
            withUnsafeMutableBytes(of: &value) { raw in
                bytes.copyBytes(to: raw.bindMemory(to: UInt8.self), from: (bytes.startIndex + offset)..<(bytes.startIndex + offset + MemoryLayout<T>.size))
            }
            return T(littleEndian: value)
        }
        let tableOffset = Int(try read(UInt64.self, at: 0x28))
        let entrySize = Int(try read(UInt16.self, at: 0x3A))
        let count = Int(try read(UInt16.self, at: 0x3C))
        let namesIndex = Int(try read(UInt16.self, at: 0x3E))
        guard entrySize >= 64, count > 0, namesIndex < count,
              tableOffset > 0, tableOffset <= bytes.count - entrySize * count else {
            throw Malformed(reason: "section header table out of range")
        }
        func header(_ i: Int) throws -> (name: Int, offset: Int, size: Int) {
            let base = tableOffset + i * entrySize
            let offset = Int(try read(UInt64.self, at: base + 24))
            let size = Int(try read(UInt64.self, at: base + 32))
            let type = try read(UInt32.self, at: base + 4)
            // SHT_NOBITS (8) occupies no bytes in the file.
            guard type == 8 || (offset >= 0 && size >= 0 && offset <= bytes.count && size <= bytes.count - offset) else {
                throw Malformed(reason: "section \(i) lies outside the file")
            }
            return (Int(try read(UInt32.self, at: base)), offset, type == 8 ? 0 : size)
        }
        let names = try header(namesIndex)
        var sections: [String: (Int, Int)] = [:]
        for i in 0..<count {
            let h = try header(i)
            guard h.name < names.size else { throw Malformed(reason: "section \(i) has a name outside the name table") }
            let start = bytes.startIndex + names.offset + h.name
            let end = bytes[start..<(bytes.startIndex + names.offset + names.size)].firstIndex(of: 0)
                ?? (bytes.startIndex + names.offset + names.size)
            sections[String(decoding: bytes[start..<end], as: UTF8.self)] = (h.offset, h.size)
        }
        self.sections = sections
    }

    /// The bytes of section `name`, or nil if the file has no such section.
    func contents(of name: String) -> Data? {
        guard let s = sections[name] else { return nil }
        return bytes.subdata(in: (bytes.startIndex + s.offset)..<(bytes.startIndex + s.offset + s.size))
    }

    /// The NUL-separated strings of `.comment`: the compilers that built the file.
    var compilerIdentities: [String] {
        guard let comment = contents(of: ".comment") else { return [] }
        return comment.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
    }
}
