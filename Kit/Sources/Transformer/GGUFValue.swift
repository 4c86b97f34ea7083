// SPDX-License-Identifier: Apache-2.0

/// The type tag GGUF writes before every metadata value (and array elements).
///
/// A closed set for GGUF versions 2 and 3; a new tag would need a new format version.
public enum GGUFValueType: UInt32, Sendable, Hashable, CaseIterable {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6
    case bool = 7, string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// Bytes of one value on disk; nil for strings and arrays, whose size is in their prefix.
    var fixedSize: Int? {
        switch self {
        case .uint8, .int8, .bool: 1
        case .uint16, .int16: 2
        case .uint32, .int32, .float32: 4
        case .uint64, .int64, .float64: 8
        case .string, .array: nil
        }
    }

    /// The fewest bytes one value can take, used to reject absurd array counts before allocating.
    var minimumSize: Int {
        switch self {
        case .string: 8
        case .array: 12
        default: fixedSize ?? 1
        }
    }
}

/// One GGUF metadata value, exactly as stored (the integer width is kept so a file round-trips).
public indirect enum GGUFValue: Sendable, Hashable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case uint64(UInt64), int64(Int64), float32(Float), float64(Double), bool(Bool), string(String)
    /// The element type is kept so that an empty array still says what it holds.
    case array(GGUFValueType, [GGUFValue])

    public var type: GGUFValueType {
        switch self {
        case .uint8: .uint8
        case .int8: .int8
        case .uint16: .uint16
        case .int16: .int16
        case .uint32: .uint32
        case .int32: .int32
        case .uint64: .uint64
        case .int64: .int64
        case .float32: .float32
        case .float64: .float64
        case .bool: .bool
        case .string: .string
        case .array: .array
        }
    }

    /// Any integer value that fits in `Int`, whatever width the file used; nil otherwise.
    public var intValue: Int? {
        switch self {
        case .uint8(let v): Int(v)
        case .int8(let v): Int(v)
        case .uint16(let v): Int(v)
        case .int16(let v): Int(v)
        case .uint32(let v): Int(v)
        case .int32(let v): Int(v)
        case .uint64(let v): Int(exactly: v)
        case .int64(let v): Int(v)
        default: nil
        }
    }

    /// A float value of either width, or an integer (writers disagree on `rope.freq_base`'s type).
    public var doubleValue: Double? {
        switch self {
        case .float32(let v): Double(v)
        case .float64(let v): v
        default: intValue.map(Double.init)
        }
    }

    public var boolValue: Bool? {
        if case .bool(let v) = self { return v }
        return nil
    }

    public var stringValue: String? {
        if case .string(let v) = self { return v }
        return nil
    }

    public var arrayValue: [GGUFValue]? {
        if case .array(_, let v) = self { return v }
        return nil
    }

    /// An array of strings (token lists, merges); nil if any element is not a string.
    public var stringArray: [String]? {
        guard let elements = arrayValue else { return nil }
        var result: [String] = []
        result.reserveCapacity(elements.count)
        for element in elements {
            guard case .string(let s) = element else { return nil }
            result.append(s)
        }
        return result
    }

    /// An array of integers of any width (token types); nil if any element is not an integer.
    public var intArray: [Int]? {
        guard let elements = arrayValue else { return nil }
        var result: [Int] = []
        result.reserveCapacity(elements.count)
        for element in elements {
            guard let v = element.intValue else { return nil }
            result.append(v)
        }
        return result
    }
}
