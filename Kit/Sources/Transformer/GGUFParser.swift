// SPDX-License-Identifier: Apache-2.0

/// Reads the header, metadata and tensor infos of a GGUF file and validates the data layout.
///
/// Layout (all little-endian; GGUF v2 and v3 share it, v3 only added big-endian files):
///
///     "GGUF" | version:u32 | tensor_count:u64 | kv_count:u64
///     kv_count × ( key:string | type:u32 | value )           string = len:u64 | UTF-8 bytes
///     tensor_count × ( name:string | n_dims:u32 | dims:u64[n_dims] | type:u32 | offset:u64 )
///     padding to general.alignment (default 32) | data section (tensor offsets are relative to it)
///
/// Arrays are `element_type:u32 | count:u64 | values`, and may hold arrays.
struct GGUFParser {
    /// What the parser found; the caller keeps the bytes mapped.
    struct Layout {
        var version: Int
        var metadata: GGUFMetadata
        var tensors: [GGUFTensorInfo]
        var alignment: Int
        var dataOffset: Int
    }

    static let magic: [UInt8] = Array("GGUF".utf8)
    static let defaultAlignment = 32
    /// ggml's GGML_MAX_DIMS.
    static let maxDimensions = 4
    /// Real files nest arrays at most once; anything deeper is hostile or broken.
    static let maxNesting = 4

    private let bytes: UnsafeRawBufferPointer
    private let path: String
    private var position = 0

    private init(bytes: UnsafeRawBufferPointer, path: String) {
        self.bytes = bytes
        self.path = path
    }

    /// Parses and validates `bytes`, the whole file at `path` (the path is only for messages).
    static func parse(_ bytes: UnsafeRawBufferPointer, path: String) throws -> Layout {
        var parser = GGUFParser(bytes: bytes, path: path)
        return try parser.parse()
    }

    private var remaining: Int { bytes.count - position }

    private func fail(_ code: GGUFError.Code, at offset: Int?, _ message: String, hint: String) -> GGUFError {
        GGUFError(code, path: path, offset: offset, message, hint: hint)
    }

    private func truncated(_ section: String, needing count: Int) -> GGUFError {
        fail(.truncated, at: position,
             "file ends in the \(section): \(count) more bytes needed, \(remaining) left (file size \(bytes.count))",
             hint: "the file is incomplete; download or copy it again")
    }

    private mutating func parse() throws -> Layout {
        guard bytes.count >= 4 else { throw truncated("header", needing: 4) }
        guard Array(bytes[0..<4]) == Self.magic else {
            let found = bytes[0..<4].map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(separator: " ")
            throw fail(.badMagic, at: 0, "magic is \(found), not \"GGUF\" (47 47 55 46)",
                       hint: "this is not a GGUF file; convert the model with llama.cpp's convert_hf_to_gguf.py")
        }
        position = 4
        let version = try readU32("header")
        guard version == 2 || version == 3 else {
            let swapped = version.byteSwapped == 2 || version.byteSwapped == 3
            throw fail(.unsupportedVersion, at: 4, "GGUF version \(version) is not supported (2 and 3 are)",
                       hint: swapped ? "this looks like a big-endian GGUF file; use a little-endian one"
                                     : "re-export the model with a current llama.cpp")
        }
        // Bounded by the whole file, not what follows: a file cut short is reported as truncated
        // in the section where it ends, while an absurd count is refused before any allocation.
        let tensorCount = try readCount("header", minimumItemSize: 32, what: "tensor count", within: bytes.count)
        let kvCount = try readCount("header", minimumItemSize: 13, what: "metadata count", within: bytes.count)

        var metadata = GGUFMetadata()
        for _ in 0..<kvCount {
            let keyOffset = position
            let key = try readString("metadata")
            let value = try readValue(type: try readValueType("metadata"), depth: 0)
            guard !metadata.contains(key) else {
                throw fail(.duplicateKey, at: keyOffset, "metadata key \"\(key)\" occurs twice",
                           hint: "the file was written by a broken tool; re-export it")
            }
            metadata[key] = value
        }
        let alignment = try validatedAlignment(metadata)

        var tensors: [GGUFTensorInfo] = []
        tensors.reserveCapacity(tensorCount)
        var names = Set<String>()
        for _ in 0..<tensorCount {
            let infoOffset = position
            let tensor = try readTensorInfo()
            guard names.insert(tensor.name).inserted else {
                throw fail(.duplicateTensorName, at: infoOffset, "tensor \"\(tensor.name)\" occurs twice",
                           hint: "the file was written by a broken tool; re-export it")
            }
            tensors.append(tensor)
        }

        let (padded, overflow) = position.addingReportingOverflow(alignment - 1)
        let dataOffset = overflow ? Int.max : padded / alignment * alignment
        try validateData(tensors, dataOffset: dataOffset, alignment: alignment)
        return Layout(version: Int(version), metadata: metadata, tensors: tensors,
                      alignment: alignment, dataOffset: dataOffset)
    }

    private func validatedAlignment(_ metadata: GGUFMetadata) throws -> Int {
        guard let value = metadata["general.alignment"] else { return Self.defaultAlignment }
        let unsigned: Set<GGUFValueType> = [.uint8, .uint16, .uint32, .uint64]
        guard unsigned.contains(value.type), let a = value.intValue, a > 0, a & (a - 1) == 0, a <= 1 << 30 else {
            throw fail(.badAlignment, at: nil, "general.alignment is \(value), not an unsigned power of two",
                       hint: "the file was written by a broken tool; re-export it")
        }
        return a
    }

    // MARK: values

    private mutating func take(_ count: Int, _ section: String) throws -> Int {
        guard count <= remaining else { throw truncated(section, needing: count) }
        defer { position += count }
        return position
    }

    private mutating func readU32(_ section: String) throws -> UInt32 {
        UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: try take(4, section), as: UInt32.self))
    }

    private mutating func readU64(_ section: String) throws -> UInt64 {
        UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: try take(8, section), as: UInt64.self))
    }

    /// A u64 count of items that each take at least `minimumItemSize` bytes, checked against
    /// `within` bytes (default: what is left of the file) so a corrupt count cannot make us
    /// allocate or loop for ever.
    private mutating func readCount(
        _ section: String, minimumItemSize: Int, what: String, within limit: Int? = nil
    ) throws -> Int {
        let start = position
        let raw = try readU64(section)
        let available = limit ?? remaining
        guard raw <= UInt64(available / minimumItemSize) else {
            throw fail(.lengthOutOfRange, at: start,
                       "\(what) \(raw) cannot fit in \(available) bytes",
                       hint: "the file is corrupt or truncated")
        }
        return Int(raw)
    }

    private mutating func readString(_ section: String) throws -> String {
        let length = try readCount(section, minimumItemSize: 1, what: "string length")
        let start = position
        let raw = UnsafeRawBufferPointer(rebasing: bytes[start..<(start + length)])
        position += length
        guard let string = String(validating: raw, as: UTF8.self) else {
            throw fail(.invalidString, at: start, "a \(length)-byte string in the \(section) is not valid UTF-8",
                       hint: "the file is corrupt")
        }
        return string
    }

    private mutating func readValueType(_ section: String) throws -> GGUFValueType {
        let start = position
        let raw = try readU32(section)
        guard let type = GGUFValueType(rawValue: raw) else {
            throw fail(.unknownValueType, at: start, "metadata value type \(raw) is not a GGUF type (0...12)",
                       hint: "the file is corrupt or uses a newer GGUF revision")
        }
        return type
    }

    private mutating func readValue(type: GGUFValueType, depth: Int) throws -> GGUFValue {
        let section = "metadata"
        switch type {
        case .uint8: return .uint8(bytes[try take(1, section)])
        case .int8: return .int8(Int8(bitPattern: bytes[try take(1, section)]))
        case .bool: return .bool(bytes[try take(1, section)] != 0)
        case .uint16: return .uint16(UInt16(littleEndian: load(try take(2, section))))
        case .int16: return .int16(Int16(littleEndian: load(try take(2, section))))
        case .uint32: return .uint32(try readU32(section))
        case .int32: return .int32(Int32(bitPattern: try readU32(section)))
        case .float32: return .float32(Float(bitPattern: try readU32(section)))
        case .uint64: return .uint64(try readU64(section))
        case .int64: return .int64(Int64(bitPattern: try readU64(section)))
        case .float64: return .float64(Double(bitPattern: try readU64(section)))
        case .string: return .string(try readString(section))
        case .array:
            let start = position
            guard depth < Self.maxNesting else {
                throw fail(.nestingTooDeep, at: start, "arrays nest more than \(Self.maxNesting) deep",
                           hint: "the file is corrupt")
            }
            let elementType = try readValueType(section)
            let count = try readCount(section, minimumItemSize: elementType.minimumSize, what: "array count")
            var elements: [GGUFValue] = []
            elements.reserveCapacity(count)
            for _ in 0..<count { elements.append(try readValue(type: elementType, depth: depth + 1)) }
            return .array(elementType, elements)
        }
    }

    private func load<T: FixedWidthInteger>(_ offset: Int) -> T {
        bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
    }

    // MARK: tensors

    private mutating func readTensorInfo() throws -> GGUFTensorInfo {
        let section = "tensor infos"
        let name = try readString(section)
        let dimsOffset = position
        let dimensionCount = try readU32(section)
        guard (1...UInt32(Self.maxDimensions)).contains(dimensionCount) else {
            throw fail(.inconsistentDimensions, at: dimsOffset,
                       "tensor \"\(name)\" has \(dimensionCount) dimensions (1...\(Self.maxDimensions) allowed)",
                       hint: "the file is corrupt")
        }
        var dimensions: [Int] = []
        var elements = 1
        for _ in 0..<dimensionCount {
            let raw = try readU64(section)
            let (product, overflow) = elements.multipliedReportingOverflow(by: Int(clamping: raw))
            guard raw > 0, raw < UInt64(Int.max / 8), !overflow, product < Int.max / 8 else {
                throw fail(.inconsistentDimensions, at: dimsOffset,
                           "tensor \"\(name)\" has dimension \(raw) (dimensions \(dimensions + [Int(clamping: raw)]))",
                           hint: "the file is corrupt")
            }
            elements = product
            dimensions.append(Int(raw))
        }
        let typeOffset = position
        let rawType = try readU32(section)
        guard let type = GGUFTensorType(rawValue: rawType) else {
            throw fail(.unknownTensorType, at: typeOffset, "tensor \"\(name)\" has ggml type \(rawType), which is unknown",
                       hint: "the file uses a newer ggml type; re-quantize it to Q8_0, Q4_K or F16")
        }
        guard dimensions[0] % type.blockSize == 0 else {
            throw fail(.inconsistentDimensions, at: dimsOffset,
                       "tensor \"\(name)\" rows of \(dimensions[0]) values are not whole \(type) blocks of \(type.blockSize)",
                       hint: "the file is corrupt")
        }
        let offsetPosition = position
        let rawOffset = try readU64(section)
        guard rawOffset <= UInt64(Int.max / 2) else {
            throw fail(.tensorOffsetOutOfRange, at: offsetPosition, "tensor \"\(name)\" data offset \(rawOffset) is absurd",
                       hint: "the file is corrupt")
        }
        return GGUFTensorInfo(name: name, dimensions: dimensions, type: type, offset: Int(rawOffset))
    }

    /// Every tensor's bytes lie aligned, inside the file and apart from every other tensor's.
    private func validateData(_ tensors: [GGUFTensorInfo], dataOffset: Int, alignment: Int) throws {
        guard !tensors.isEmpty else { return }
        guard dataOffset <= bytes.count else {
            throw fail(.truncated, at: bytes.count,
                       "file ends before the data section at \(dataOffset) (file size \(bytes.count))",
                       hint: "the file is incomplete; download or copy it again")
        }
        let dataSize = bytes.count - dataOffset
        for tensor in tensors {
            let at = dataOffset + tensor.offset
            guard tensor.offset % alignment == 0 else {
                throw fail(.tensorMisaligned, at: at,
                           "tensor \"\(tensor.name)\" data offset \(tensor.offset) is not a multiple of \(alignment)",
                           hint: "the file is corrupt or was written with another general.alignment")
            }
            guard tensor.offset < dataSize else {
                throw fail(.tensorOffsetOutOfRange, at: at,
                           "tensor \"\(tensor.name)\" starts at data offset \(tensor.offset), beyond the \(dataSize)-byte data section",
                           hint: "the file is corrupt or incomplete")
            }
            guard tensor.byteCount <= dataSize - tensor.offset else {
                throw fail(.truncated, at: at,
                           "file ends in the data of tensor \"\(tensor.name)\": \(tensor.byteCount) bytes needed, \(dataSize - tensor.offset) left",
                           hint: "the file is incomplete; download or copy it again")
            }
        }
        let sorted = tensors.sorted { $0.offset < $1.offset }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.offset + a.byteCount > b.offset {
            throw fail(.overlappingTensors, at: dataOffset + b.offset,
                       "tensor \"\(a.name)\" (data \(a.offset)..<\(a.offset + a.byteCount)) overlaps \"\(b.name)\" (from \(b.offset))",
                       hint: "the file is corrupt")
        }
    }
}
