// SPDX-License-Identifier: Apache-2.0
import Foundation
import Glibc
import Linalg

/// Element types the engine reads from safetensors files.
public enum SafetensorsDtype: String, Sendable, Hashable {
    case f32 = "F32", f16 = "F16", bf16 = "BF16", i64 = "I64"

    public var byteCount: Int {
        switch self {
        case .f32: 4
        case .f16, .bf16: 2
        case .i64: 8
        }
    }
}

/// A read-only, memory-mapped safetensors file.
///
/// Layout: an 8-byte little-endian header length `n`, `n` bytes of JSON mapping each
/// tensor name to `{dtype, shape, data_offsets: [begin, end]}` (offsets relative to the
/// data section that follows the header), then the data. The whole header is validated
/// on open, so later accesses cannot read outside the mapping. The file stays mapped
/// for the life of this object: F32 tensors are handed out without copying, which keeps
/// a frozen backbone's weights in the page cache shared by every worker process.
///
/// - Important: immutable after `init`; safe to share across threads.
public final class SafetensorsFile: @unchecked Sendable {
    /// One tensor's entry in the header.
    public struct Entry: Sendable, Hashable {
        public let name: String
        public let dtype: SafetensorsDtype
        public let shape: [Int]
        /// Byte range inside the data section.
        public let byteRange: Range<Int>
        public var elementCount: Int { shape.reduce(1, *) }
    }

    /// The format's own limit on the header size (the reference reader refuses more).
    static let maximumHeaderLength = 100_000_000

    public let url: URL
    /// Free-form string pairs from `__metadata__`.
    public let metadata: [String: String]
    public let entries: [String: Entry]
    private let mapping: UnsafeRawPointer
    private let mappingLength: Int
    private let dataStart: Int

    /// Maps `url` and validates its header.
    ///
    /// - Throws: ``SafetensorsError`` with a code for each malformed case (see its codes).
    public init(url: URL) throws {
        self.url = url
        let path = url.path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            throw SafetensorsError(.cannotOpen, "\(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            throw SafetensorsError(.cannotOpen, "\(path): fstat: \(String(cString: strerror(errno)))")
        }
        let length = Int(info.st_size)
        guard length >= 8 else {
            throw SafetensorsError(.truncatedFile, "\(path): \(length) bytes, shorter than the 8-byte header length")
        }
        guard let raw = mmap(nil, length, PROT_READ, MAP_PRIVATE, fd, 0), raw != MAP_FAILED else {
            throw SafetensorsError(.cannotOpen, "\(path): mmap: \(String(cString: strerror(errno)))")
        }
        let base = UnsafeRawPointer(raw)
        do {
            let parsed = try Self.parseHeader(base: base, length: length, path: path)
            self.metadata = parsed.metadata
            self.entries = parsed.entries
            self.dataStart = parsed.dataStart
        } catch {
            munmap(raw, length)
            throw error
        }
        self.mapping = base
        self.mappingLength = length
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: mapping), mappingLength) }

    /// Tensor names in sorted order.
    public var names: [String] { entries.keys.sorted() }

    public func entry(_ name: String) throws -> Entry {
        guard let entry = entries[name] else {
            throw SafetensorsError(.missingTensor, "\(url.path): no tensor named \(name)")
        }
        return entry
    }

    /// The F32 tensor `name` in place, or nil if it is stored in another float type or at
    /// an address not aligned for Float (then use ``tensor(_:)``, which converts).
    public func mappedFloats(_ name: String) throws -> UnsafeBufferPointer<Float>? {
        let entry = try entry(name)
        let address = mapping + dataStart + entry.byteRange.lowerBound
        guard entry.dtype == .f32, Int(bitPattern: address) % MemoryLayout<Float>.alignment == 0 else { return nil }
        return UnsafeBufferPointer(start: address.assumingMemoryBound(to: Float.self), count: entry.elementCount)
    }

    /// A Float32 copy of the float tensor `name` (F16 and BF16 are widened exactly).
    public func tensor(_ name: String) throws -> Tensor {
        let entry = try entry(name)
        let address = mapping + dataStart + entry.byteRange.lowerBound
        guard entry.dtype != .i64 else {
            throw SafetensorsError(.wrongDtype, "\(url.path): \(name) is I64, not a float tensor")
        }
        let count = entry.elementCount
        var result = Tensor(shape: entry.shape)
        result.withUnsafeMutableBufferPointer { out in
            switch entry.dtype {
            case .f32:
                for i in 0..<count { out[i] = Float(bitPattern: address.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
            case .f16:
                for i in 0..<count { out[i] = Float(Float16(bitPattern: address.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
            case .bf16:
                for i in 0..<count {
                    out[i] = Float(bitPattern: UInt32(address.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16)
                }
            case .i64:
                break
            }
        }
        return result
    }

    /// The I64 tensor `name` as integers.
    public func int64s(_ name: String) throws -> [Int64] {
        let entry = try entry(name)
        guard entry.dtype == .i64 else {
            throw SafetensorsError(.wrongDtype, "\(url.path): \(name) is \(entry.dtype.rawValue), not I64")
        }
        let address = mapping + dataStart + entry.byteRange.lowerBound
        return (0..<entry.elementCount).map { address.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self) }
    }

    private static func parseHeader(
        base: UnsafeRawPointer, length: Int, path: String
    ) throws -> (metadata: [String: String], entries: [String: Entry], dataStart: Int) {
        let headerLength = UInt64(littleEndian: base.loadUnaligned(as: UInt64.self))
        guard headerLength > 0, headerLength <= UInt64(maximumHeaderLength) else {
            throw SafetensorsError(.badHeaderLength, "\(path): header length \(headerLength) is not in 1...\(maximumHeaderLength)")
        }
        let n = Int(headerLength)
        guard 8 + n <= length else {
            throw SafetensorsError(.truncatedFile, "\(path): header of \(n) bytes announced, file has \(length - 8) after the length")
        }
        let headerData = Data(bytes: base + 8, count: n)
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: headerData)
        } catch {
            throw SafetensorsError(.badJSON, "\(path): header is not valid JSON (\(error.localizedDescription))")
        }
        guard let dictionary = object as? [String: Any] else {
            throw SafetensorsError(.badJSON, "\(path): header is JSON but not an object")
        }
        let dataLength = length - 8 - n
        var metadata: [String: String] = [:]
        var entries: [String: Entry] = [:]
        for (name, value) in dictionary {
            if name == "__metadata__" {
                guard let pairs = value as? [String: String] else {
                    throw SafetensorsError(.badEntry, "\(path): __metadata__ must map strings to strings")
                }
                metadata = pairs
                continue
            }
            entries[name] = try parseEntry(name: name, value: value, dataLength: dataLength, path: path)
        }
        let ordered = entries.values.sorted { ($0.byteRange.lowerBound, $0.byteRange.upperBound) < ($1.byteRange.lowerBound, $1.byteRange.upperBound) }
        for (previous, next) in zip(ordered, ordered.dropFirst()) where next.byteRange.lowerBound < previous.byteRange.upperBound {
            throw SafetensorsError(.overlap, "\(path): \(previous.name) \(previous.byteRange) and \(next.name) \(next.byteRange) overlap")
        }
        return (metadata, entries, 8 + n)
    }

    private static func parseEntry(name: String, value: Any, dataLength: Int, path: String) throws -> Entry {
        guard let fields = value as? [String: Any],
              let dtypeName = fields["dtype"] as? String,
              let shapeValues = fields["shape"] as? [Any],
              let offsetValues = fields["data_offsets"] as? [Any], offsetValues.count == 2
        else {
            throw SafetensorsError(.badEntry, "\(path): \(name) needs dtype, shape and two data_offsets")
        }
        guard let dtype = SafetensorsDtype(rawValue: dtypeName) else {
            throw SafetensorsError(.unknownDtype, "\(path): \(name) has dtype \(dtypeName); expected F32, F16, BF16 or I64")
        }
        let shape = try shapeValues.map { try exactInteger($0, what: "shape of \(name)", path: path) }
        let offsets = try offsetValues.map { try exactInteger($0, what: "data_offsets of \(name)", path: path) }
        guard offsets[0] <= offsets[1], offsets[1] <= dataLength else {
            throw SafetensorsError(.offsetsOutOfRange,
                                   "\(path): \(name) has data_offsets \(offsets) outside the \(dataLength)-byte data section")
        }
        var bytes = dtype.byteCount
        for extent in shape {
            let (product, overflow) = bytes.multipliedReportingOverflow(by: extent)
            guard !overflow else { throw SafetensorsError(.sizeMismatch, "\(path): \(name) shape \(shape) overflows") }
            bytes = product
        }
        guard bytes == offsets[1] - offsets[0] else {
            throw SafetensorsError(.sizeMismatch,
                                   "\(path): \(name) is \(dtypeName) \(shape) = \(bytes) bytes but data_offsets span \(offsets[1] - offsets[0])")
        }
        return Entry(name: name, dtype: dtype, shape: shape, byteRange: offsets[0]..<offsets[1])
    }

    private static func exactInteger(_ value: Any, what: String, path: String) throws -> Int {
        guard let number = value as? NSNumber, let integer = Int(exactly: number.doubleValue), integer >= 0 else {
            throw SafetensorsError(.badEntry, "\(path): \(what) must hold non-negative integers; found \(value)")
        }
        return integer
    }
}

extension SafetensorsFile {
    /// Writes F32 tensors as a safetensors file, atomically (temporary file, then rename).
    ///
    /// Tensors are laid out in name order and the header is padded with spaces to a
    /// multiple of 8 bytes so every tensor is aligned for zero-copy reads.
    ///
    /// - Throws: ``SafetensorsError`` `.cannotWrite` when the file cannot be written.
    public static func write(_ tensors: [String: Tensor], metadata: [String: String] = [:], to url: URL) throws {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let ordered = tensors.sorted { $0.key < $1.key }
        for (name, tensor) in ordered {
            let bytes = tensor.count * 4
            header[name] = ["dtype": "F32", "shape": tensor.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        var json: Data
        do {
            json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        } catch {
            throw SafetensorsError(.cannotWrite, "\(url.path): cannot encode header (\(error.localizedDescription))")
        }
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
        var file = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(json)
        for (_, tensor) in ordered {
            tensor.withUnsafeBufferPointer { values in
                for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { file.append(contentsOf: $0) } }
            }
        }
        do {
            try file.write(to: url, options: .atomic)
        } catch {
            throw SafetensorsError(.cannotWrite, "\(url.path): \(error.localizedDescription)", cause: error)
        }
    }
}
