// SPDX-License-Identifier: Apache-2.0
import Foundation

/// The line on which each key path of a TOML document is first written.
///
/// TOMLKit's tree keeps no source positions, yet an error in `accounts.toml` must name
/// its line; this scan of the text recovers them for table headers (`[a.b]`), keys
/// (`k = …`) and dotted keys (`a.b.k = …`). A key written inside an inline table or a
/// multi-line value maps to the nearest enclosing key that the scan saw.
public struct TOMLKeyLines: Sendable {
    private var lines: [[String]: Int] = [:]

    public init(_ source: String) {
        var table: [String] = []
        for (index, raw) in source.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let text = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if text.isEmpty || text.hasPrefix("#") { continue }
            if text.hasPrefix("[") {
                let inner = text.drop(while: { $0 == "[" })
                guard let close = Self.unquotedIndex(of: "]", in: inner) else { continue }
                table = Self.keyPath(inner[..<close])
                record(table, line: index + 1)
            } else if let equals = Self.unquotedIndex(of: "=", in: Substring(text)) {
                record(table + Self.keyPath(text[..<equals]), line: index + 1)
            }
        }
    }

    /// The line of `path`, else of its nearest recorded ancestor, else of its first
    /// recorded descendant.
    public func line(of path: [String]) -> Int? {
        var prefix = path
        while !prefix.isEmpty {
            if let line = lines[prefix] { return line }
            prefix.removeLast()
        }
        return lines.filter { $0.key.starts(with: path) }.map(\.value).min()
    }

    private mutating func record(_ path: [String], line: Int) {
        if lines[path] == nil { lines[path] = line }
    }

    private static func unquotedIndex(of target: Character, in text: Substring) -> Substring.Index? {
        var quote: Character?
        for index in text.indices {
            let character = text[index]
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "\"" || character == "'" {
                quote = character
            } else if character == target {
                return index
            }
        }
        return nil
    }

    /// `a."b.c" . d` → ["a", "b.c", "d"].
    private static func keyPath(_ text: Substring) -> [String] {
        var parts: [String] = []
        var rest = text
        while let dot = unquotedIndex(of: ".", in: rest) {
            parts.append(unquote(rest[..<dot]))
            rest = rest[rest.index(after: dot)...]
        }
        parts.append(unquote(rest))
        return parts
    }

    private static func unquote(_ text: Substring) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.count >= 2, let first = trimmed.first, first == "\"" || first == "'", trimmed.last == first {
            return String(trimmed.dropFirst().dropLast())
        }
        return trimmed
    }
}
