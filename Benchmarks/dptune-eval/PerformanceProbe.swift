// SPDX-License-Identifier: Apache-2.0
import BenchmarkProbes
import Foundation
import Linalg
import Privacy
import Records
import Training
import Transformer

/// Machine-relative speed measurements taken in the same process as the training runs.
enum PerformanceProbe {
    /// The best SGEMM GFLOP/s over a square and two MiniLM-shaped products at the current
    /// thread count: the peak the training throughput is compared with.
    static func sgemmPeak() -> Double {
        let shapes = [(2048, 2048, 2048), (4096, 1536, 384), (4096, 384, 1536)]
        return shapes.compactMap { sgemmGFLOPs(m: $0.0, n: $0.1, k: $0.2, repeats: 5).max() }.max() ?? .nan
    }

    /// Takes one probe of the engine's products and, when they run on the engine's own
    /// kernel, one of OpenBLAS's: the reference DESIGN.md §8 compares throughput with.
    static func probePeaks(into results: inout EvaluationResults) {
        results.sgemmPeaks.append(sgemmPeak())
        guard BLAS.usesAVX512Kernel else { return }
        BLAS.setUsesAVX512Kernel(false)
        defer { BLAS.setUsesAVX512Kernel(true) }
        results.openBLASPeaks.append(sgemmPeak())
    }

    /// Forward FLOPs of one token through an encoder's blocks at sequence length T:
    /// per layer 2·(4C² + 2CI) for the dense layers and 2·2·T·C for attention scores and
    /// the weighted sum. Embedding look-ups, norms and activations are not counted.
    static func forwardFLOPsPerToken(_ config: BertConfig, sequenceLength: Double) -> Double {
        let C = Double(config.hiddenSize), I = Double(config.intermediateSize)
        return Double(config.numHiddenLayers) * (2 * (4 * C * C + 2 * C * I) + 4 * sequenceLength * C)
    }

    /// Tokens the backbone computes per real token when batches of `batch` records, drawn
    /// uniformly (a public seed), run shortest first in the trainer's ``LengthChunks`` of at
    /// most `chunkSize`; when each of those chunks is split into the `parts` pieces the cores
    /// run, each padded to its own longest record (what a step computes); and when the same
    /// sorted batches run in fixed chunks of `chunkSize`.
    static func paddedTokensPerRealToken(lengths: [Int], batch: Int, chunkSize: Int, parts: Int,
                                         batches: Int = 300) -> (cut: Double, pieces: Double, fixed: Double) {
        guard !lengths.isEmpty, batch > 0 else { return (.nan, .nan, .nan) }
        var generator = SeededGenerator(seed: 41)
        var real = 0, cut = 0, pieces = 0, fixed = 0
        let chunks = LengthChunks(maxCount: chunkSize)
        for _ in 0..<batches {
            let drawn = (0..<batch).map { _ in lengths[Int(generator.next() % UInt64(lengths.count))] }.sorted()
            // Each chunk or piece pads to its longest member.
            func computed(_ ranges: [Range<Int>]) -> Int { ranges.reduce(0) { $0 + $1.count * (drawn[$1].max() ?? 0) } }
            real += drawn.reduce(0, +)
            cut += computed(chunks.ranges(lengths: drawn))
            pieces += computed(chunks.pieces(lengths: drawn, parts: parts))
            fixed += computed(stride(from: 0, to: drawn.count, by: chunkSize).map { $0..<min($0 + chunkSize, drawn.count) })
        }
        return (Double(cut) / Double(real), Double(pieces) / Double(real), Double(fixed) / Double(real))
    }

    /// Seconds to price 10⁴ Poisson-sampled Gaussian steps (q = 0.01, σ = 1) at δ = 10⁻⁵,
    /// and to calibrate σ for ε = 8 over them, with the PLD and the RDP accountant.
    static func accountantTimings() throws -> [(name: String, seconds: Double, value: Double)] {
        let event = DpEvent.poissonSampled(probability: 0.01, event: .gaussian(noiseMultiplier: 1)).repeated(10_000)
        var rows: [(String, Double, Double)] = []
        for (name, accountant) in [("PLD", Manifest.Accountant.prv), ("RDP", .rdp)] {
            let start = ContinuousClock.now
            var priced = TrainingPlan.accountantFactory(accountant)(.addOrRemoveOne)
            try priced.compose(event)
            let epsilon = try priced.epsilon(delta: 1e-5)
            rows.append(("\(name): ε of 10⁴ steps (q 0.01, σ 1)", seconds(since: start), epsilon))
            let calibrationStart = ContinuousClock.now
            let sigma = try NoiseCalibration.noiseMultiplier(
                targetEpsilon: 8, delta: 1e-5, samplingRate: 0.01, steps: 10_000,
                tolerance: TrainingPlan.calibrationTolerance, makeAccountant: TrainingPlan.accountantFactory(accountant))
            rows.append(("\(name): calibrate σ for ε 8 over 10⁴ steps", seconds(since: calibrationStart), sigma))
        }
        return rows
    }
}
