// SPDX-License-Identifier: Apache-2.0
import Synchronization

/// A bounded, thread-safe memo from a pre-tokenized word to its token ids.
///
/// Natural text repeats a small set of words, so after the first few thousand records
/// almost every word is a hit and encoding costs one hash lookup per word. When full,
/// the cache is emptied rather than managed as an LRU: refilling is cheap and it keeps
/// the lock hold time to a dictionary operation.
final class WordCache: Sendable {
    private let entries = Mutex<[UTF8Key: [Int32]]>([:])
    private let capacity: Int

    init(capacity: Int = 200_000) {
        self.capacity = capacity
    }

    private func ids(for word: UTF8Key) -> [Int32]? {
        entries.withLock { $0[word] }
    }

    private func store(_ ids: [Int32], for word: UTF8Key) {
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[word] = ids
        }
    }

    /// The cached ids of `word`, computing and storing them on a miss.
    func ids(for word: UTF8Key, compute: (UTF8Key) -> [Int32]) -> [Int32] {
        if let hit = ids(for: word) { return hit }
        let computed = compute(word)
        store(computed, for: word)
        return computed
    }
}
