// SPDX-License-Identifier: Apache-2.0

extension GGUFFile {
    /// Dequantizes a Llama q or k projection back into Hugging Face row order.
    ///
    /// llama.cpp's converter permutes the rows of `attn_q` and `attn_k` so that its RoPE can turn
    /// adjacent pairs (2i, 2i+1); Hugging Face (and ``rotaryForward``) pairs i with i + HD/2.
    /// Within each head of HD rows, GGUF row 2i + j holds Hugging Face row j·HD/2 + i (j ∈ {0, 1}):
    ///
    ///     GGUF rows of one head:  r0 r½ | r1 r½+1 | r2 r½+2 | …    (pairs rotate together)
    ///     HF rows of one head:    r0 r1 r2 … r½-1 | r½ r½+1 … rHD-1
    ///
    /// - Parameters:
    ///   - tensor: `blk.N.attn_q.weight` (pass the query head count) or `blk.N.attn_k.weight`
    ///     (pass the key/value head count); row-major shape (heads·HD, C).
    ///   - heads: heads in this projection; its rows must split into heads of even width.
    ///   - out: (heads·HD, C) floats in Hugging Face order.
    /// - Throws: ``GGUFError`` as ``dequantize(_:into:)``, or `.inconsistentDimensions` if the
    ///   rows do not split into `heads` heads of even width.
    public func dequantize(_ tensor: GGUFTensorInfo, unpermutingRotaryHeads heads: Int,
                           into out: UnsafeMutableBufferPointer<Float>) throws {
        precondition(heads > 0, "head count must be positive; found \(heads)")
        let shape = tensor.shape
        let rows = shape.count == 2 ? shape[0] : 0
        guard rows > 0, rows % (2 * heads) == 0 else {
            throw GGUFError(.inconsistentDimensions, path: path, offset: nil,
                            "tensor \"\(tensor.name)\" of shape \(shape) does not split into \(heads) heads of even width",
                            hint: "pass the query head count for attn_q and the key/value head count for attn_k")
        }
        let columns = shape[1]
        let headDim = rows / heads, half = headDim / 2
        var permuted = [Float](repeating: 0, count: tensor.elementCount)
        try permuted.withUnsafeMutableBufferPointer { try dequantize(tensor, into: $0) }
        guard let destination = out.baseAddress else { return }
        permuted.withUnsafeBufferPointer { source in
            guard let source = source.baseAddress else { return }
            for h in 0..<heads {
                for i in 0..<half {
                    for j in 0..<2 {
                        let from = source + (h * headDim + 2 * i + j) * columns
                        let to = destination + (h * headDim + j * half + i) * columns
                        to.update(from: from, count: columns)
                    }
                }
            }
        }
    }
}
