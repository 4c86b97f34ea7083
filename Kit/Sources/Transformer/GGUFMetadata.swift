// SPDX-License-Identifier: Apache-2.0

/// The key/value metadata of a GGUF file, in file order, looked up by key.
///
/// Keys are dotted names such as `general.architecture` or `llama.embedding_length`.
public struct GGUFMetadata: Sendable {
    /// Every entry in the order the file stores it (a writer reproduces this order).
    public private(set) var entries: [(key: String, value: GGUFValue)] = []
    private var index: [String: Int] = [:]

    public init() {}

    /// Metadata holding `entries` in this order; nil if a key occurs twice.
    public init?(_ entries: [(key: String, value: GGUFValue)]) {
        for entry in entries {
            guard !contains(entry.key) else { return nil }
            append(entry.key, entry.value)
        }
    }

    public var count: Int { entries.count }
    public var keys: [String] { entries.map(\.key) }

    public func contains(_ key: String) -> Bool { index[key] != nil }

    /// The value stored under `key`, or nil.
    ///
    /// Setting a new key appends it; setting an existing key replaces its value in place.
    public subscript(key: String) -> GGUFValue? {
        get { index[key].map { entries[$0].value } }
        set {
            if let position = index[key] {
                if let newValue {
                    entries[position].value = newValue
                } else {
                    entries.remove(at: position)
                    rebuildIndex()
                }
            } else if let newValue {
                append(key, newValue)
            }
        }
    }

    private mutating func append(_ key: String, _ value: GGUFValue) {
        index[key] = entries.count
        entries.append((key, value))
    }

    private mutating func rebuildIndex() {
        index = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.key, $0) })
    }
}
