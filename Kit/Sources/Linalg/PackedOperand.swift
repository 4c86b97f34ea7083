// SPDX-License-Identifier: Apache-2.0
import CSGEMM

/// A frozen right-hand operand `op(B)`, `(k, n)`, of ``BLAS/sgemm(transA:m:alpha:a:lda:b:beta:c:ldc:)``,
/// packed once into the AVX-512 kernel's panels.
///
/// The kernel packs `op(B)` on every product; for a frozen weight that work would repeat in
/// every step. Without the kernel (another CPU, or turned off when this was made), or
/// when asked not to pack, products read the operand where it lies.
public final class PackedOperand: @unchecked Sendable {
    // @unchecked: every stored property is set once in init; the panels are only read after.
    public let k: Int
    public let n: Int
    let source: UnsafePointer<Float>
    let ldb: Int
    let transposed: Bool
    let panels: UnsafeMutablePointer<Float>?

    /// - Parameters:
    ///   - b: the operand as stored, `(k, n)` with row stride `ldb`, or `(n, k)` when
    ///     `transposed`; it must outlive this object
    ///   - packs: false to keep no packed copy, for an operand whose packing on the fly is a
    ///     plain copy and not worth the memory
    public init(b: UnsafePointer<Float>, ldb: Int, transposed: Bool, k: Int, n: Int, packs: Bool = true) {
        self.k = k
        self.n = n
        source = b
        self.ldb = ldb
        self.transposed = transposed
        guard packs, BLAS.usesAVX512Kernel, k > 0, n > 0 else {
            panels = nil
            return
        }
        let count = dptune_sgemm_packed_count(k, n)
        let panels = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.stride, alignment: 64)
            .bindMemory(to: Float.self, capacity: count)
        dptune_sgemm_pack_b(transposed ? 1 : 0, k, n, b, ldb, panels)
        self.panels = panels
    }

    deinit { panels?.deallocate() }
}
