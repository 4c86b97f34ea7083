// SPDX-License-Identifier: Apache-2.0
import Foundation

/// A JSON document kept as a value, so that strict validation can tell a missing key from a
/// mistyped one and free-form parts (strategy options) can be handed on untouched.
///
/// Integers that fit in `Int64` are kept exact (a 64-bit seed must not round through
/// `Double`); every other number is a `Double`.
public enum JSONValue: Sendable, Hashable, Codable, CustomStringConvertible {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// The JSON type name, for messages such as "must be a number; found string".
    public var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .integer, .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }

    /// Compact JSON with sorted keys: a stable byte form for hashing and for plugins.
    public var jsonData: Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding a JSONValue cannot fail: every case maps to a JSON value; non-finite
        // numbers cannot come from a JSON parser.
        return (try? encoder.encode(self)) ?? Data("null".utf8)
    }

    public var description: String { String(decoding: jsonData, as: UTF8.self) }

    /// The deepest nesting of arrays and objects that ``parse(_:)`` decodes.
    ///
    /// Decoding tries each JSON type in turn at every value, and every failed try builds an
    /// error naming the path down to it, so a value costs more the deeper it sits: a 1 MiB
    /// manifest of arrays nested 500 deep (Foundation's parser allows 512) kept the daemon's
    /// intake busy for some twenty minutes, and 1 MiB of `{}` at 32 levels (the former
    /// limit) took 19.7 s of CPU in `dptuned`, 2.5 s at 8; again at every start while the
    /// file stayed in `incoming/`. A manifest nests 3 levels (a strategy option is at most a
    /// list or a map), which leaves room for option kinds yet to come.
    public static let maximumDepth = 8

    /// Why ``parse(_:)`` refused a document before decoding it.
    public struct NestingTooDeep: Error, Sendable, Hashable, CustomStringConvertible {
        public let limit: Int
        public var description: String { "nests arrays and objects more than \(limit) levels deep" }
    }

    /// Parses one JSON document.
    ///
    /// - Throws: ``NestingTooDeep`` when arrays and objects nest more than ``maximumDepth``
    ///   levels deep; `DecodingError` from Foundation when `data` is not JSON.
    public static func parse(_ data: Data) throws -> JSONValue {
        if nesting(of: data, exceeds: maximumDepth) { throw NestingTooDeep(limit: maximumDepth) }
        return try JSONDecoder().decode(JSONValue.self, from: data)
    }

    /// Whether the brackets of `data` outside strings nest deeper than `limit`: one linear
    /// pass, so that a hostile document is refused before the decoder's cost is paid. Text
    /// that is not JSON is left to the decoder to refuse.
    static func nesting(of data: Data, exceeds limit: Int) -> Bool {
        var depth = 0
        var inString = false
        var escaped = false
        for byte in data {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""):
                inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > limit { return true }
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                depth -= 1
            default:
                break
            }
        }
        return false
    }
}
