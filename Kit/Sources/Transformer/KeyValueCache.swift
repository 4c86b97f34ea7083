// SPDX-License-Identifier: Apache-2.0
// Dimensions: L = layers, P = positions (the capacity), KV = key/value heads · head width.

/// The keys and values (after RoPE) of every position a decoder has seen, for one sequence.
///
/// Generation runs the prompt once and then one token at a time; each step's attention reads
/// the keys and values of all earlier positions from here instead of recomputing them. One
/// allocation, sized at init for `capacity` positions:
///
///     keys:   (L, P, KV)    layer l at l·P·KV, position p of it at p·KV
///     values: (L, P, KV)
///
/// - Important: not thread-safe; it belongs to one generation loop.
public final class KeyValueCache {
    /// Positions it can hold.
    public let capacity: Int
    /// Positions it holds (the next token's position).
    public internal(set) var count = 0
    let layerCount: Int
    let width: Int
    private let storage: ActivationSlab

    /// An empty cache for `capacity` positions of `config`'s model.
    public init(config: LlamaConfig, capacity: Int) {
        precondition(capacity >= 1 && capacity <= config.contextLength,
                     "capacity \(capacity) must be in 1...\(config.contextLength) (the context length)")
        self.capacity = capacity
        layerCount = config.layerCount
        width = config.kvHeadCount * config.headDim
        storage = ActivationSlab()
        storage.reserve(2 * layerCount * capacity * width)
    }

    /// Forgets every position (the storage is kept).
    public func removeAll() { count = 0 }

    /// `(P, KV)`: the keys of layer `l`.
    func keys(_ l: Int) -> UnsafeMutablePointer<Float> {
        storage.base + l * capacity * width
    }

    /// `(P, KV)`: the values of layer `l`.
    func values(_ l: Int) -> UnsafeMutablePointer<Float> {
        storage.base + (layerCount + l) * capacity * width
    }
}
