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
    public enum StructureRefusal: Error, Sendable, Hashable, CustomStringConvertible {
        case nestingTooDeep(limit: Int)
        /// Decoders disagree on such a document (ours keeps the first value, many the last),
        /// so a manifest's reader and the daemon could read different privacy parameters.
        case duplicateKey(String)

        public var description: String {
            switch self {
            case .nestingTooDeep(let limit): "nests arrays and objects more than \(limit) levels deep"
            case .duplicateKey(let key): "holds the key \"\(key.prefix(64))\" twice in one object"
            }
        }
    }

    /// Parses one JSON document.
    ///
    /// - Throws: ``StructureRefusal`` when arrays and objects nest more than ``maximumDepth``
    ///   levels deep or an object holds a key twice; `DecodingError` from Foundation when
    ///   `data` is not JSON.
    public static func parse(_ data: Data) throws -> JSONValue {
        if let refusal = structureRefusal(of: data, depthLimit: maximumDepth) { throw refusal }
        return try JSONDecoder().decode(JSONValue.self, from: data)
    }

    /// Nesting beyond `depthLimit` or a key repeated in one object, found in one linear pass
    /// over the brackets, commas and strings, so that a hostile document is refused before
    /// the decoder's cost is paid. Text that is not JSON is left to the decoder to refuse.
    static func structureRefusal(of data: Data, depthLimit: Int) -> StructureRefusal? {
        // Each open container: the keys seen so far for an object, nil for an array.
        var open: [Set<String>?] = []
        var expectingKey = false
        var index = data.startIndex
        while index < data.endIndex {
            switch data[index] {
            case UInt8(ascii: "\""):
                let end = closingQuote(in: data, openedAt: index)
                if expectingKey, case var keys?? = open.last {
                    let key = string(data[index..<min(end + 1, data.endIndex)])
                    guard keys.insert(key).inserted else { return .duplicateKey(key) }
                    open[open.count - 1] = keys
                    expectingKey = false
                }
                index = end
            case UInt8(ascii: "{"):
                open.append([])
                expectingKey = true
                if open.count > depthLimit { return .nestingTooDeep(limit: depthLimit) }
            case UInt8(ascii: "["):
                open.append(nil)
                expectingKey = false
                if open.count > depthLimit { return .nestingTooDeep(limit: depthLimit) }
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                _ = open.popLast()
                expectingKey = false
            case UInt8(ascii: ","):
                if case _?? = open.last { expectingKey = true }
            default:
                break
            }
            index += 1
        }
        return nil
    }

    /// The index of the quote that closes the string opened at `start`, or the end.
    private static func closingQuote(in data: Data, openedAt start: Data.Index) -> Data.Index {
        var escaped = false
        var index = start + 1
        while index < data.endIndex {
            let byte = data[index]
            if escaped {
                escaped = false
            } else if byte == UInt8(ascii: "\\") {
                escaped = true
            } else if byte == UInt8(ascii: "\"") {
                return index
            }
            index += 1
        }
        return data.endIndex
    }

    /// A quoted JSON string's value (escapes resolved, as the decoder will see the key).
    private static func string(_ quoted: Data) -> String {
        if !quoted.contains(UInt8(ascii: "\\")) {
            return String(decoding: quoted.dropFirst().dropLast(), as: UTF8.self)
        }
        return (try? JSONDecoder().decode(String.self, from: quoted)) ?? String(decoding: quoted, as: UTF8.self)
    }
}
