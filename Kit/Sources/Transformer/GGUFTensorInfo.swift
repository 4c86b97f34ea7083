// SPDX-License-Identifier: Apache-2.0

/// Where one tensor of a GGUF file lives and how it is laid out.
///
/// GGUF lists dimensions innermost first (ggml's `ne[0]` is the contiguous row length), the
/// reverse of a row-major shape:
///
///     dimensions = [576, 49152]   (ne0 = 576 values per row, ne1 = 49152 rows)
///     shape      = [49152, 576]   (the same bytes as a row-major (V, C) matrix)
public struct GGUFTensorInfo: Sendable, Hashable {
    public let name: String
    /// ggml order, innermost (contiguous) dimension first.
    public let dimensions: [Int]
    public let type: GGUFTensorType
    /// Byte offset of the data from the start of the file's data section.
    public let offset: Int

    init(name: String, dimensions: [Int], type: GGUFTensorType, offset: Int) {
        self.name = name
        self.dimensions = dimensions
        self.type = type
        self.offset = offset
    }

    /// Row-major shape (outermost first): ``dimensions`` reversed.
    public var shape: [Int] { dimensions.reversed() }

    public var elementCount: Int { dimensions.reduce(1, *) }

    /// Bytes the data takes in the file.
    public var byteCount: Int { type.byteCount(values: elementCount) }
}
