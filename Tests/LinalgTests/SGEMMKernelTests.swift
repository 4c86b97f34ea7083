// SPDX-License-Identifier: Apache-2.0
import Foundation
import Linalg
import Testing

/// The engine's products on the AVX-512 kernel and on OpenBLAS: every layout against a
/// Double reference, the packed operand against the unpacked one, and the row-split
/// guarantee the training pieces rely on.
///
/// Serialized because the kernel switch is process-wide; each test restores it.
@Suite(.serialized) struct SGEMMKernelTests {
    /// One product's operands, stored with padded row strides so that a kernel reading
    /// or writing past a row shows up.
    struct Product {
        let transA: Bool, transB: Bool
        let m: Int, n: Int, k: Int
        let alpha: Float, beta: Float
        var lda: Int { (transA ? m : k) + 3 }
        var ldb: Int { (transB ? k : n) + 5 }
        var ldc: Int { n + 7 }
        let a: [Float], b: [Float], c: [Float]

        init(transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float, beta: Float, seed: UInt64) {
            self.transA = transA
            self.transB = transB
            (self.m, self.n, self.k, self.alpha, self.beta) = (m, n, k, alpha, beta)
            var generator = SeededGenerator(seed: seed)
            func values(_ count: Int) -> [Float] { (0..<count).map { _ in Float.random(in: -1...1, using: &generator) } }
            a = values((transA ? k : m) * ((transA ? m : k) + 3))
            b = values((transB ? n : k) * ((transB ? k : n) + 5))
            // With beta 0, C's old entries must not be read: NaN would show through.
            c = beta == 0 ? [Float](repeating: .nan, count: m * (n + 7)) : values(m * (n + 7))
        }

        func elementA(_ i: Int, _ p: Int) -> Float { transA ? a[p * lda + i] : a[i * lda + p] }
        func elementB(_ p: Int, _ j: Int) -> Float { transB ? b[j * ldb + p] : b[p * ldb + j] }

        /// C after the product, through ``BLAS``, with op(B) packed first if asked.
        func run(packed: Bool = false) -> [Float] {
            var out = c
            a.withUnsafeBufferPointer { pa in
                b.withUnsafeBufferPointer { pb in
                    out.withUnsafeMutableBufferPointer { pc in
                        if packed {
                            let operand = PackedOperand(b: pb.baseAddress!, ldb: ldb, transposed: transB, k: k, n: n)
                            BLAS.sgemm(transA: transA, m: m, alpha: alpha, a: pa.baseAddress!, lda: lda, b: operand,
                                       beta: beta, c: pc.baseAddress!, ldc: ldc)
                        } else {
                            BLAS.sgemm(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                                       a: pa.baseAddress!, lda: lda, b: pb.baseAddress!, ldb: ldb,
                                       beta: beta, c: pc.baseAddress!, ldc: ldc)
                        }
                    }
                }
            }
            return out
        }

        /// Every entry within the classic bound on a k-term float dot product,
        /// γ_(k+2)·(|alpha|·Σ|a·b| + |beta·c|), and the padding of C untouched.
        func expectMatchesReference(_ out: [Float], sourceLocation: SourceLocation = #_sourceLocation) {
            let gamma = Double(k + 2) * Double(Float.ulpOfOne) / 2 / (1 - Double(k + 2) * Double(Float.ulpOfOne) / 2)
            var worst = 0.0
            for i in 0..<m {
                for j in 0..<ldc {
                    let index = i * ldc + j
                    guard j < n else {
                        #expect(out[index].bitPattern == c[index].bitPattern, "C written past column n", sourceLocation: sourceLocation)
                        continue
                    }
                    var sum = 0.0, magnitude = 0.0
                    for p in 0..<k {
                        let term = Double(elementA(i, p)) * Double(elementB(p, j))
                        sum += term
                        magnitude += abs(term)
                    }
                    let old = beta == 0 ? 0 : Double(beta) * Double(c[index])
                    let want = Double(alpha) * sum + old
                    let bound = gamma * (abs(Double(alpha)) * magnitude + abs(old)) + Double(Float.leastNormalMagnitude)
                    worst = max(worst, abs(Double(out[index]) - want) / bound)
                }
            }
            #expect(worst <= 1, "error \(worst)× the rounding bound for \(self.label)", sourceLocation: sourceLocation)
        }

        var label: String { "transA \(transA) transB \(transB) \(m)x\(n)x\(k) alpha \(alpha) beta \(beta)" }
    }

    /// Shapes at and around the kernel's blocks: 12 rows, 32-column panels, 384-long
    /// stretches of k and 192-row blocks; one product with no k at all. Last panels of 1,
    /// 6, 8 and 16 columns run the half-width micro-kernel, of 17 and 32 the full one.
    static let shapes: [(Int, Int, Int)] = [
        (1, 1, 1), (12, 32, 384), (13, 33, 385), (5, 17, 0), (7, 70, 3), (200, 40, 800), (31, 400, 50),
    ]
    static let scalings: [(Float, Float)] = [(1, 0), (1, 1), (1.5, -0.5)]

    static func products() -> [Product] {
        var products: [Product] = []
        var seed: UInt64 = 1
        for transA in [false, true] {
            for transB in [false, true] {
                for (m, n, k) in shapes {
                    for (alpha, beta) in scalings {
                        products.append(Product(transA: transA, transB: transB, m: m, n: n, k: k,
                                                alpha: alpha, beta: beta, seed: seed))
                        seed += 1
                    }
                }
            }
        }
        return products
    }

    @Test(arguments: [true, false]) func everyLayoutMatchesTheDoubleReference(kernel: Bool) {
        BLAS.setUsesAVX512Kernel(kernel)
        defer { BLAS.setUsesAVX512Kernel(true) }
        for product in Self.products() {
            product.expectMatchesReference(product.run())
            product.expectMatchesReference(product.run(packed: true))
        }
    }

    /// A packed operand holds the panels the kernel would pack on the fly, so the two
    /// products agree to the bit.
    @Test func packedOperandGivesTheBitsOfTheUnpackedProduct() {
        for product in Self.products() {
            let unpacked = product.run(), packed = product.run(packed: true)
            #expect(zip(unpacked, packed).allSatisfy { $0.bitPattern == $1.bitPattern }, "\(product.label)")
        }
    }

    /// A dense layer's bias rides in the packed product (on the kernel, in its last step):
    /// it must give the bits of setting C's rows to the bias and accumulating onto them,
    /// the padding of C untouched, on the kernel and off it.
    @Test(arguments: [true, false]) func biasGivesTheBitsOfAccumulatingOntoIt(kernel: Bool) {
        BLAS.setUsesAVX512Kernel(kernel)
        defer { BLAS.setUsesAVX512Kernel(true) }
        // 1536: four stretches of k, the bias only in the first
        for (m, n, k) in Self.shapes + [(40, 48, 1536)] {
            for transA in [false, true] {
                let product = Product(transA: transA, transB: true, m: m, n: n, k: k, alpha: 1.5, beta: 0,
                                      seed: UInt64(m * 1000 + n))
                var generator = SeededGenerator(seed: 5)
                let bias = (0..<n).map { _ in Float.random(in: -1...1, using: &generator) }
                var accumulated = product.c, fused = product.c
                for row in 0..<m { for j in 0..<n { accumulated[row * product.ldc + j] = bias[j] } }
                product.a.withUnsafeBufferPointer { pa in
                    product.b.withUnsafeBufferPointer { pb in
                        let operand = PackedOperand(b: pb.baseAddress!, ldb: product.ldb, transposed: true, k: k, n: n)
                        accumulated.withUnsafeMutableBufferPointer { pc in
                            BLAS.sgemm(transA: transA, m: m, alpha: product.alpha, a: pa.baseAddress!, lda: product.lda,
                                       b: operand, beta: 1, c: pc.baseAddress!, ldc: product.ldc)
                        }
                        bias.withUnsafeBufferPointer { pbias in
                            fused.withUnsafeMutableBufferPointer { pc in
                                BLAS.sgemm(transA: transA, m: m, alpha: product.alpha, a: pa.baseAddress!, lda: product.lda,
                                           b: operand, bias: pbias.baseAddress!, c: pc.baseAddress!, ldc: product.ldc)
                            }
                        }
                    }
                }
                #expect(fused.elementsEqual(accumulated) { $0.bitPattern == $1.bitPattern }, "\(product.label)")
            }
        }
    }

    /// A training piece multiplies some rows of a batch; on the kernel it must get the
    /// bits those rows get in the whole product, at any thread count.
    @Test func rowsOfAPieceGetTheBitsTheyGetInTheWholeProduct() throws {
        try #require(BLAS.usesAVX512Kernel, "the AVX-512 kernel does not run on this CPU")
        let threads = BLAS.threadCount
        defer { BLAS.setThreadCount(threads) }
        for transA in [false, true] {
            let whole = Product(transA: transA, transB: true, m: 300, n: 384, k: 384, alpha: 1, beta: 0, seed: 99)
            BLAS.setThreadCount(2)
            let together = whole.run()
            BLAS.setThreadCount(1)
            #expect(whole.run().elementsEqual(together) { $0.bitPattern == $1.bitPattern }, "1 and 2 threads differ")
            for (first, count) in [(0, 148), (148, 152), (37, 11)] {
                var piece = [Float](repeating: .nan, count: count * whole.ldc)
                whole.a.withUnsafeBufferPointer { pa in
                    whole.b.withUnsafeBufferPointer { pb in
                        piece.withUnsafeMutableBufferPointer { pc in
                            let a = transA ? pa.baseAddress! + first : pa.baseAddress! + first * whole.lda
                            BLAS.sgemm(transA: transA, transB: true, m: count, n: whole.n, k: whole.k,
                                       a: a, lda: whole.lda, b: pb.baseAddress!, ldb: whole.ldb,
                                       c: pc.baseAddress!, ldc: whole.ldc)
                        }
                    }
                }
                for row in 0..<count {
                    let alone = piece[(row * whole.ldc)..<(row * whole.ldc + whole.n)]
                    let inside = together[((first + row) * whole.ldc)..<((first + row) * whole.ldc + whole.n)]
                    #expect(alone.elementsEqual(inside) { $0.bitPattern == $1.bitPattern },
                            "row \(first + row) differs alone (transA \(transA))")
                }
            }
        }
    }

    /// The kernel must not be silently off where it should run: it runs exactly when the
    /// CPU reports AVX-512F.
    @Test func kernelRunsExactlyWhereTheCPUHasAVX512() throws {
        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let flags = cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") }.map { $0.split(separator: " ") } ?? []
        #expect(BLAS.usesAVX512Kernel == flags.contains("avx512f"))
        BLAS.setUsesAVX512Kernel(false)
        #expect(!BLAS.usesAVX512Kernel)
        BLAS.setUsesAVX512Kernel(true)
        #expect(BLAS.usesAVX512Kernel == flags.contains("avx512f"))
    }
}
