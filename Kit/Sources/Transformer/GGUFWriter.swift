// SPDX-License-Identifier: Apache-2.0

/// Builds a GGUF v3 file image: metadata, then tensor infos, then aligned tensor data.
///
/// Meant for tests and small exports (it holds everything in memory). Tensor data is written as
/// given; use ``addTensor(name:shape:values:)`` for Float32 and ``addTensor(name:type:dimensions:bytes:)``
/// for bytes already in a ggml block layout. The data alignment is `general.alignment` if the
/// metadata sets it to a power of two, else 32; an invalid value is still written as given, so
/// tests can craft files that readers must refuse.
public struct GGUFWriter: Sendable {
    public var metadata: GGUFMetadata
    private var tensors: [(name: String, dimensions: [Int], type: GGUFTensorType, bytes: [UInt8])] = []

    public init(metadata: GGUFMetadata = GGUFMetadata()) {
        self.metadata = metadata
    }

    /// Adds a tensor whose `bytes` are already laid out as `type` blocks.
    ///
    /// - Parameters:
    ///   - dimensions: ggml order, innermost first (the reverse of a row-major shape).
    public mutating func addTensor(name: String, type: GGUFTensorType, dimensions: [Int], bytes: [UInt8]) {
        let count = dimensions.reduce(1, *)
        precondition(!dimensions.isEmpty && dimensions.allSatisfy { $0 > 0 }, "dimensions \(dimensions) must be positive")
        precondition(dimensions[0] % type.blockSize == 0, "rows of \(dimensions[0]) are not whole \(type) blocks")
        precondition(bytes.count == type.byteCount(values: count),
                     "\(type) tensor of \(count) values takes \(type.byteCount(values: count)) bytes; found \(bytes.count)")
        precondition(!tensors.contains { $0.name == name }, "tensor \(name) added twice")
        tensors.append((name, dimensions, type, bytes))
    }

    /// Adds a Float32 tensor of row-major `shape`.
    public mutating func addTensor(name: String, shape: [Int], values: [Float]) {
        precondition(values.count == shape.reduce(1, *), "shape \(shape) holds \(shape.reduce(1, *)) values; found \(values.count)")
        var bytes: [UInt8] = []
        bytes.reserveCapacity(values.count * 4)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        addTensor(name: name, type: .f32, dimensions: shape.reversed(), bytes: bytes)
    }

    /// The complete file.
    public func serialized() -> [UInt8] {
        let declared = metadata["general.alignment"]?.intValue ?? GGUFParser.defaultAlignment
        let alignment = declared > 0 && declared & (declared - 1) == 0 ? declared : GGUFParser.defaultAlignment
        var out: [UInt8] = GGUFParser.magic
        append(UInt32(3), to: &out)
        append(UInt64(tensors.count), to: &out)
        append(UInt64(metadata.count), to: &out)
        for (key, value) in metadata.entries {
            append(key, to: &out)
            append(value.type.rawValue, to: &out)
            append(value, to: &out)
        }
        var offset = 0
        var offsets: [Int] = []
        for tensor in tensors {
            offsets.append(offset)
            offset = (offset + tensor.bytes.count + alignment - 1) / alignment * alignment
        }
        for (tensor, offset) in zip(tensors, offsets) {
            append(tensor.name, to: &out)
            append(UInt32(tensor.dimensions.count), to: &out)
            for d in tensor.dimensions { append(UInt64(d), to: &out) }
            append(tensor.type.rawValue, to: &out)
            append(UInt64(offset), to: &out)
        }
        let dataOffset = (out.count + alignment - 1) / alignment * alignment
        for (tensor, offset) in zip(tensors, offsets) {
            out.append(contentsOf: repeatElement(0, count: dataOffset + offset - out.count))
            out.append(contentsOf: tensor.bytes)
        }
        return out
    }

    private func append<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    private func append(_ string: String, to out: inout [UInt8]) {
        append(UInt64(string.utf8.count), to: &out)
        out.append(contentsOf: string.utf8)
    }

    private func append(_ value: GGUFValue, to out: inout [UInt8]) {
        switch value {
        case .uint8(let v): append(v, to: &out)
        case .int8(let v): append(v, to: &out)
        case .uint16(let v): append(v, to: &out)
        case .int16(let v): append(v, to: &out)
        case .uint32(let v): append(v, to: &out)
        case .int32(let v): append(v, to: &out)
        case .uint64(let v): append(v, to: &out)
        case .int64(let v): append(v, to: &out)
        case .float32(let v): append(v.bitPattern, to: &out)
        case .float64(let v): append(v.bitPattern, to: &out)
        case .bool(let v): out.append(v ? 1 : 0)
        case .string(let v): append(v, to: &out)
        case .array(let elementType, let elements):
            append(elementType.rawValue, to: &out)
            append(UInt64(elements.count), to: &out)
            for element in elements {
                precondition(element.type == elementType, "array of \(elementType) holds a \(element.type)")
                append(element, to: &out)
            }
        }
    }
}
