// SPDX-License-Identifier: Apache-2.0
import Linalg

/// One contiguous, 64-byte aligned Float allocation that a model carves into named
/// regions; it grows (and is zeroed) only when a batch needs more than any before it, so
/// the steady state allocates nothing.
final class ActivationSlab {
    private(set) var base: UnsafeMutablePointer<Float>
    private(set) var count: Int

    init() {
        count = 0
        base = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64).bindMemory(to: Float.self, capacity: 16)
    }

    deinit { UnsafeMutableRawPointer(base).deallocate() }

    /// Makes room for `needed` floats; returns true when the slab was reallocated.
    @discardableResult
    func reserve(_ needed: Int) -> Bool {
        guard needed > count else { return false }
        UnsafeMutableRawPointer(base).deallocate()
        base = UnsafeMutableRawPointer.allocate(byteCount: needed * 4, alignment: 64)
            .bindMemory(to: Float.self, capacity: needed)
        base.initialize(repeating: 0, count: needed)
        count = needed
        return true
    }
}

/// Where a model's regions lie in its slabs for one batch shape `(B, T)` and `workers`
/// concurrent attention workers.
protocol SlabLayout {
    associatedtype Config
    var B: Int { get }
    var T: Int { get }
    var workers: Int { get }
    var activationCount: Int { get }
    var gradientCount: Int { get }
    init(B: Int, T: Int, workers: Int, config: Config?)
}

extension SlabLayout {
    /// Lays the slabs out for exactly `batch × seqLen`, growing them if this shape needs more
    /// floats than any before; false when they already were.
    ///
    /// Laying them out for the largest batch and the longest sequence seen, each on its own,
    /// multiplied the two: the label names' pass (77 names of 11 tokens) followed by pieces
    /// of 64-token records made MiniLM's slabs 77 × 64 rows, five times what any pass
    /// needed, and every replica zeroed them again.
    mutating func fit(batch: Int, seqLen: Int, config: Config?, activations: ActivationSlab,
                      gradients: ActivationSlab) -> Bool {
        let workers = max(BLAS.threadCount, self.workers)
        guard batch != B || seqLen != T || workers != self.workers else { return false }
        self = Self(B: batch, T: seqLen, workers: workers, config: config)
        activations.reserve(activationCount)
        gradients.reserve(gradientCount)
        return true
    }
}

/// Hands out consecutive offsets inside a slab, each rounded up to 16 floats (64 bytes).
struct SlabCursor {
    private(set) var offset = 0
    mutating func take(_ count: Int) -> Int {
        let start = offset
        offset += (count + 15) / 16 * 16
        return start
    }
}

/// Reads a model's frozen weights from a safetensors file: in place when they are F32,
/// converted (and kept alive here) otherwise.
struct WeightReader {
    let file: SafetensorsFile
    /// Prefixes some exporters put before every name (`bert.`, `transformer.`).
    let prefixes: [String]
    private(set) var converted: [Tensor] = []

    init(file: SafetensorsFile, prefixes: [String]) {
        self.file = file
        self.prefixes = prefixes
    }

    mutating func load(_ name: String, shape: [Int]) throws -> UnsafePointer<Float> {
        let file = self.file
        guard let entry = prefixes.lazy.compactMap({ file.entries[$0 + name] }).first else {
            throw ModelLoadingError(.missingWeight, "\(file.url.path): no tensor \(name) (tried prefixes \(prefixes))")
        }
        guard entry.shape == shape else {
            throw ModelLoadingError(.weightShapeMismatch, "\(file.url.path): \(entry.name) has shape \(entry.shape); the config implies \(shape)")
        }
        if let mapped = try file.mappedFloats(entry.name), let address = mapped.baseAddress {
            return address
        }
        let tensor = try file.tensor(entry.name)
        converted.append(tensor)
        return UnsafePointer(tensor.storage.base)
    }
}
