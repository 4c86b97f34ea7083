// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import BenchmarkProbes
import Foundation
import Privacy

/// Accountant and noise-generation speed, against the reference library's timings in
/// `../shared/testvectors/accounting.json` (`timing_seconds`, `pld_seconds`).
struct PrivacyBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "privacy", abstract: "Accountant and noise speed.")

    @Option(help: "Timed repetitions per measurement (the median is reported).")
    var repeats = 5

    func run() throws {
        let step = DpEvent.poissonSampled(probability: 0.01, event: .gaussian(noiseMultiplier: 1.1))
        let widths = [58, 14]
        print(row(["measurement", "median"], widths: widths))
        func report(_ name: String, _ seconds: Double) {
            print(row([name, String(format: "%.4f s", seconds)], widths: widths))
        }

        report("RDP: epsilon of 10^4 steps (q 0.01, sigma 1.1)", try medianSeconds(repeats: repeats) {
            var accountant = RDPAccountant()
            try accountant.compose(step, count: 10_000)
            _ = try accountant.epsilon(delta: 1e-5)
        })
        report("PLD (interval 1e-4): epsilon of 10^4 steps", try medianSeconds(repeats: repeats) {
            var accountant = PLDAccountant(valueDiscretizationInterval: 1e-4)
            try accountant.compose(step, count: 10_000)
            _ = try accountant.epsilon(delta: 1e-5)
        })
        for (name, make) in [("RDP", { (r: NeighboringRelation) -> any PrivacyAccountant in RDPAccountant(neighboringRelation: r) }),
                             ("PLD", { (r: NeighboringRelation) -> any PrivacyAccountant in PLDAccountant(neighboringRelation: r) })] {
            report("\(name): calibrate sigma for eps 8, q 0.032, 94 steps", try medianSeconds(repeats: repeats) {
                _ = try NoiseCalibration.noiseMultiplier(targetEpsilon: 8, delta: 1e-5, samplingRate: 0.032, steps: 94,
                                                         tolerance: 1e-4, makeAccountant: make)
            })
        }

        let source = try GaussianNoiseSource()
        var buffer = [Float](repeating: 0, count: 1 << 22)
        let seconds = medianSeconds(repeats: repeats) {
            buffer.withUnsafeMutableBufferPointer { source.addNoise(to: $0, standardDeviation: 1) }
        }
        print(row(["secure Gaussian noise (ChaCha20), floats/s", String(format: "%.3g", Double(buffer.count) / seconds)],
                  widths: widths))
    }
}
