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
