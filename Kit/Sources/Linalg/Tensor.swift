// SPDX-License-Identifier: Apache-2.0

/// Contiguous row-major Float32 storage shared by copies of a ``Tensor`` until one writes.
///
/// Kernels take raw pointers (llm.c style); this class only owns the allocation.
public final class TensorStorage: @unchecked Sendable {
    public let count: Int
    public let base: UnsafeMutablePointer<Float>

    init(count: Int) {
        precondition(count >= 0, "tensor size must be non-negative; found \(count)")
        self.count = count
        // 64-byte alignment keeps AVX loads in OpenBLAS and our loops on one cache line.
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        self.base = raw.bindMemory(to: Float.self, capacity: max(count, 1))
    }

    deinit { UnsafeMutableRawPointer(base).deallocate() }
}

/// A dense Float32 tensor with a shape and contiguous row-major storage.
///
/// A value type with copy-on-write storage: copies are cheap until one of them is
/// mutated. Shape mismatches are programmer errors and trap (`precondition`).
public struct Tensor: Sendable {
    public private(set) var shape: [Int]
    public private(set) var storage: TensorStorage

    /// A tensor of `shape` with every element set to `value`.
    public init(shape: [Int], repeating value: Float = 0) {
        let count = shape.reduce(1, *)
        self.shape = shape
        self.storage = TensorStorage(count: count)
        storage.base.initialize(repeating: value, count: count)
    }

    /// A tensor of `shape` holding `data` in row-major order.
    public init(shape: [Int], data: [Float]) {
        let count = shape.reduce(1, *)
        precondition(data.count == count, "shape \(shape) holds \(count) values; found \(data.count)")
        self.shape = shape
        self.storage = TensorStorage(count: count)
        data.withUnsafeBufferPointer { storage.base.initialize(from: $0.baseAddress!, count: count) }
    }

    /// A tensor of `shape` copied from `count` floats at `pointer`.
    public init(shape: [Int], copying pointer: UnsafePointer<Float>) {
        let count = shape.reduce(1, *)
        self.shape = shape
        self.storage = TensorStorage(count: count)
        storage.base.initialize(from: pointer, count: count)
    }

    public var count: Int { storage.count }
    public var rank: Int { shape.count }

    /// The same elements seen with another shape of the same size.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        precondition(newShape.reduce(1, *) == count, "cannot reshape \(shape) to \(newShape)")
        var copy = self
        copy.shape = newShape
        return copy
    }

    /// Read-only access to the contiguous elements.
    public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(start: storage.base, count: count))
    }

    /// Mutable access; copies the storage first if another tensor shares it.
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Float>) throws -> R
    ) rethrows -> R {
        if !isKnownUniquelyReferenced(&storage) {
            let fresh = TensorStorage(count: count)
            fresh.base.initialize(from: storage.base, count: count)
            storage = fresh
        }
        return try body(UnsafeMutableBufferPointer(start: storage.base, count: count))
    }

    /// The elements as an array (for tests and serialization, not hot loops).
    public var scalars: [Float] { withUnsafeBufferPointer { Array($0) } }

    public subscript(flat index: Int) -> Float {
        get {
            precondition(index >= 0 && index < count, "index \(index) out of range 0..<\(count)")
            return storage.base[index]
        }
        set {
            precondition(index >= 0 && index < count, "index \(index) out of range 0..<\(count)")
            withUnsafeMutableBufferPointer { $0[index] = newValue }
        }
    }
}
