// SPDX-License-Identifier: Apache-2.0
import Foundation

/// A manifest's `strategy_options`, checked against the strategy's declared options.
///
/// Every strategy reads its options through these accessors, so a typo or a wrong type is
/// refused with the same specific message whichever plugin is asked, and an option the
/// manifest leaves out takes the default the strategy advertises in ``StrategyOption``.
public struct StrategyOptions: Sendable {
    private let values: [String: OptionValue]
    private let schema: [String: StrategyOption]
    /// The declared options the JSON left out, which read the strategy's default, sorted.
    ///
    /// Another version of the strategy may default them differently, so a reader of a
    /// recorded configuration asks which ones it would be filling in.
    public let defaultedNames: [String]

    /// One JSON value, as far as options need them.
    public enum OptionValue: Sendable, Hashable, Encodable {
        case number(Double)
        case string(String)
        case boolean(Bool)
        case stringList([String])
        case numberMap([String: Double])

        public func encode(to encoder: Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .number(let value): try container.encode(value)
            case .string(let value): try container.encode(value)
            case .boolean(let value): try container.encode(value)
            case .stringList(let value): try container.encode(value)
            case .numberMap(let value): try container.encode(value)
            }
        }
    }

    /// Every declared option with the value the strategy reads, defaults included, as one
    /// JSON object with sorted keys.
    ///
    /// A model card records this rather than the manifest's text, so that a later plugin
    /// version with other defaults rebuilds the adapter as it was trained.
    public var resolvedJSON: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding strings, numbers read from JSON, lists and maps of them cannot fail.
        return (try? encoder.encode(values)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    /// Parses `json` (a JSON object; empty text means no options) against `schema`.
    ///
    /// - Throws: ``AdapterError`` `.invalidOption` naming the unknown key or the wrong type.
    public init(json: String, schema: [StrategyOption]) throws(AdapterError) {
        self.schema = Dictionary(schema.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var parsed: [String: OptionValue] = [:]
        for option in schema {
            guard let value = try? JSONDecoder().decode(JSONText.self, from: Data(option.defaultJSON.utf8)) else {
                throw AdapterError(.invalidOption, "the default of strategy option \(option.name) is not JSON: \(option.defaultJSON)")
            }
            parsed[option.name] = try Self.convert(value, for: option, source: "default")
        }
        var givenNames: Set<String> = []
        let text = json.trimmingCharacters(in: .whitespacesAndNewlines)
        if !text.isEmpty {
            guard case .object(let object)? = try? JSONDecoder().decode(JSONText.self, from: Data(text.utf8)) else {
                throw AdapterError(.invalidOption, "strategy_options must be a JSON object; found \(text.prefix(80))")
            }
            for (key, value) in object {
                guard let option = self.schema[key] else {
                    let known = schema.map(\.name).sorted().joined(separator: ", ")
                    throw AdapterError(.invalidOption, "unknown strategy option \"\(key)\" (known: \(known.isEmpty ? "none" : known))")
                }
                parsed[key] = try Self.convert(value, for: option, source: "manifest")
                givenNames.insert(key)
            }
        }
        values = parsed
        defaultedNames = schema.map(\.name).filter { !givenNames.contains($0) }.sorted()
    }

    public func integer(_ name: String) throws(AdapterError) -> Int {
        guard case .number(let value) = try lookup(name), let integer = Int(exactly: value) else {
            throw AdapterError(.invalidOption, "strategy option \(name) must be an integer")
        }
        return integer
    }

    public func number(_ name: String) throws(AdapterError) -> Double {
        guard case .number(let value) = try lookup(name) else {
            throw AdapterError(.invalidOption, "strategy option \(name) must be a number")
        }
        return value
    }

    public func string(_ name: String) throws(AdapterError) -> String {
        guard case .string(let value) = try lookup(name) else {
            throw AdapterError(.invalidOption, "strategy option \(name) must be a string")
        }
        return value
    }

    public func boolean(_ name: String) throws(AdapterError) -> Bool {
        guard case .boolean(let value) = try lookup(name) else {
            throw AdapterError(.invalidOption, "strategy option \(name) must be true or false")
        }
        return value
    }

    public func stringList(_ name: String) throws(AdapterError) -> [String] {
        guard case .stringList(let value) = try lookup(name) else {
            throw AdapterError(.invalidOption, "strategy option \(name) must be a list of strings")
        }
        return value
    }

    public func numberMap(_ name: String) throws(AdapterError) -> [String: Double] {
        guard case .numberMap(let value) = try lookup(name) else {
            throw AdapterError(.invalidOption, "strategy option \(name) must be an object of numbers")
        }
        return value
    }

    private func lookup(_ name: String) throws(AdapterError) -> OptionValue {
        guard let value = values[name] else {
            throw AdapterError(.invalidOption, "strategy option \(name) is not declared by this strategy")
        }
        return value
    }

    private static func convert(_ value: JSONText, for option: StrategyOption, source: String) throws(AdapterError) -> OptionValue {
        let wrongType = AdapterError(
            .invalidOption, "strategy option \(option.name) (\(source)) must be \(option.kind.rawValue); found \(value)")
        switch (option.kind, value) {
        case (.integer, .number(let number)) where number.rounded() == number && abs(number) < 0x1p53:
            return .number(number)
        case (.number, .number(let number)):
            return .number(number)
        case (.string, .string(let string)):
            return .string(string)
        case (.boolean, .boolean(let flag)):
            return .boolean(flag)
        case (.stringList, .array(let elements)):
            var strings: [String] = []
            for element in elements {
                guard case .string(let string) = element else { throw wrongType }
                strings.append(string)
            }
            return .stringList(strings)
        case (.numberMap, .object(let members)):
            var map: [String: Double] = [:]
            for (key, element) in members {
                guard case .number(let number) = element else { throw wrongType }
                map[key] = number
            }
            return .numberMap(map)
        default:
            throw wrongType
        }
    }
}

/// A JSON value decoded without Foundation's `Any` bridging, which on Linux cannot tell
/// `true` from `1`.
private indirect enum JSONText: Decodable, CustomStringConvertible {
    case null, boolean(Bool), number(Double), string(String), array([JSONText]), object([String: JSONText])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let flag = try? container.decode(Bool.self) { self = .boolean(flag) }
        else if let number = try? container.decode(Double.self) { self = .number(number) }
        else if let string = try? container.decode(String.self) { self = .string(string) }
        else if let array = try? container.decode([JSONText].self) { self = .array(array) }
        else { self = .object(try container.decode([String: JSONText].self)) }
    }

    var description: String {
        switch self {
        case .null: "null"
        case .boolean(let flag): "\(flag)"
        case .number(let number): "\(number)"
        case .string(let string): "\"\(string)\""
        case .array(let elements): "[" + elements.map(\.description).joined(separator: ",") + "]"
        case .object(let members): "{" + members.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",") + "}"
        }
    }
}
