// SPDX-License-Identifier: Apache-2.0

/// A named group of an adapter's trainable parameters, stored contiguously in its slab.
///
/// Segments are the unit of group-wise clipping and of noise allocation: each gets a
/// clipping bound C_g and a noise standard deviation s_g. A segment may belong to one
/// task (multi-task adapters), which lets its task be charged separately.
public struct ParameterSegment: Sendable, Hashable, Codable {
    /// A stable name, used as the tensor name when the adapter is saved.
    public let name: String
    /// The first parameter's index in the adapter's flat slab.
    public let offset: Int
    /// The row-major shape of this segment's tensor.
    public let shape: [Int]
    /// The task whose records alone reach these parameters, or nil if shared.
    public let task: String?

    public init(name: String, offset: Int, shape: [Int], task: String? = nil) {
        precondition(offset >= 0, "segment offset must be non-negative; found \(offset)")
        precondition(shape.allSatisfy { $0 > 0 }, "segment \(name) has a non-positive dimension: \(shape)")
        self.name = name
        self.offset = offset
        self.shape = shape
        self.task = task
    }

    public var count: Int { shape.reduce(1, *) }
    public var range: Range<Int> { offset..<(offset + count) }
}
