// SPDX-License-Identifier: Apache-2.0
import Linalg
import Testing
import Transformer

/// `GGUFFile.dequantize(_:unpermutingRotaryHeads:into:)` undoes llama.cpp's q/k row permutation.
@Suite struct GGUFRotaryPermutationTests {
    /// llama.cpp convert_hf_to_gguf.py `permute`: reshape (heads, 2, HD/2, C), swap axes 1 and 2.
    static func llamaCppPermute(_ w: [Float], heads: Int, rows: Int, columns: Int) -> [Float] {
        let half = rows / heads / 2
        var out = [Float](repeating: 0, count: w.count)
        for h in 0..<heads {
            for i in 0..<half {
                for j in 0..<2 {
                    let from = (h * 2 * half + j * half + i) * columns
                    let to = (h * 2 * half + i * 2 + j) * columns
                    out.replaceSubrange(to..<(to + columns), with: w[from..<(from + columns)])
                }
            }
        }
        return out
    }

    @Test func recoversHuggingFaceRows() throws {
        let heads = 3, headDim = 4, columns = 5, rows = heads * headDim
        let hf = (0..<(rows * columns)).map { Float($0) }
        var writer = GGUFWriter()
        writer.addTensor(name: "blk.0.attn_k.weight", shape: [rows, columns],
                         values: Self.llamaCppPermute(hf, heads: heads, rows: rows, columns: columns))
        let file = try GGUFFile(bytes: writer.serialized())
        let info = try #require(file.tensor(named: "blk.0.attn_k.weight"))
        var out = [Float](repeating: -1, count: hf.count)
        try out.withUnsafeMutableBufferPointer { try file.dequantize(info, unpermutingRotaryHeads: heads, into: $0) }
        #expect(out == hf)
        let error = #expect(throws: GGUFError.self) {
            try out.withUnsafeMutableBufferPointer { try file.dequantize(info, unpermutingRotaryHeads: 5, into: $0) }
        }
        #expect(error?.code == .inconsistentDimensions)
    }

    /// Why the permutation matters: rotate_half on HF rows equals llama.cpp's adjacent-pair
    /// rotation on the permuted rows, so un-permuted GGUF weights feed ``rotaryForward`` correctly.
    @Test func permutedRowsAreTheInterleavedConvention() {
        let heads = 2, headDim = 8, half = headDim / 2, position: Int32 = 3, P = 4
        let q = (0..<(heads * headDim)).map { Float(($0 * 7) % 11) - 5 }  // one token's projection, HF order
        var cosTable = [Float](repeating: 0, count: P * half), sinTable = cosTable
        rotaryTables(cos: &cosTable, sin: &sinTable, theta: 10_000, P: P, HD: headDim)
        var rotated = [Float](repeating: 0, count: q.count)
        rotaryForward(out: &rotated, input: q, positions: [position], cos: cosTable, sin: sinTable,
                      B: 1, T: 1, NH: heads, HD: headDim, P: P)
        let permuted = Self.llamaCppPermute(q, heads: heads, rows: heads * headDim, columns: 1)
        var interleaved = permuted
        for h in 0..<heads {
            for i in 0..<half {
                let c = cosTable[Int(position) * half + i], s = sinTable[Int(position) * half + i]
                let a = permuted[h * headDim + 2 * i], b = permuted[h * headDim + 2 * i + 1]
                interleaved[h * headDim + 2 * i] = a * c - b * s
                interleaved[h * headDim + 2 * i + 1] = b * c + a * s
            }
        }
        #expect(Self.llamaCppPermute(rotated, heads: heads, rows: heads * headDim, columns: 1) == interleaved)
    }
}
