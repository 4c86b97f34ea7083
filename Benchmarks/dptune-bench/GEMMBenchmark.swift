// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import BenchmarkProbes
import Linalg

/// SGEMM throughput for square and transformer-shaped products at 1 and 2 threads, on
/// the engine's products (``BLAS/sgemm(transA:transB:m:n:k:alpha:a:lda:b:ldb:beta:c:ldc:)``)
/// and on OpenBLAS beside them.
struct GEMMBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gemm", abstract: "SGEMM GFLOP/s: the engine's products and OpenBLAS's.")

    @Option(help: "Timed repetitions per shape (the median is reported).")
    var repeats = 9

    /// (M, N, K): square products and the shapes of a MiniLM training step
    /// (4096 tokens × 384 hidden, the 1536-wide feed-forward, and a weight-gradient product).
    static let shapes: [(Int, Int, Int)] = [
        (1024, 1024, 1024), (2048, 2048, 2048), (4096, 384, 384), (4096, 1536, 384), (4096, 384, 1536), (384, 384, 4096),
    ]

    func run() {
        let kernel = BLAS.usesAVX512Kernel
        print("engine products: \(kernel ? "AVX-512 kernel (CSGEMM)" : "OpenBLAS (no AVX-512F on this CPU)")")
        let widths = [22, 8, 10, 10]
        print(row(["M x N x K", "threads", "engine", "OpenBLAS"], widths: widths))
        for threads in [1, 2] {
            BLAS.setThreadCount(threads)
            // Every engine product of a thread count before any of OpenBLAS's: OpenBLAS's idle
            // workers spin for a while after each call and would take a core from the engine.
            let engine = Self.shapes.map { median(sgemmGFLOPs(m: $0.0, n: $0.1, k: $0.2, repeats: repeats)) }
            BLAS.setUsesAVX512Kernel(false)
            let openBLAS = Self.shapes.map { median(sgemmGFLOPs(m: $0.0, n: $0.1, k: $0.2, repeats: repeats)) }
            BLAS.setUsesAVX512Kernel(true)
            for (index, (m, n, k)) in Self.shapes.enumerated() {
                print(row(["\(m) x \(n) x \(k)", "\(threads)", String(format: "%.1f", engine[index]),
                           String(format: "%.1f", openBLAS[index])], widths: widths))
            }
        }
    }
}
