// SPDX-License-Identifier: Apache-2.0
import Foundation
@testable import Privacy
import Testing

@Suite struct GaussianNoiseSourceTests {
    private func draw(_ source: GaussianNoiseSource, _ count: Int, standardDeviation: Double = 1) -> [Float] {
        var values = [Float](repeating: 0, count: count)
        values.withUnsafeMutableBufferPointer { source.fill($0, standardDeviation: standardDeviation) }
        return values
    }

    /// 10^6 kernel-seeded draws. Each statistic's threshold has false-alarm probability ≤ 1e-6
    /// under a correct N(0, 1) generator (normal approximations at 4.89 standard errors; the KS
    /// bound from the Kolmogorov distribution's tail, P[√n·D > x] ≈ 2e^{−2x²}), so the suite
    /// as a whole fails spuriously less than once in 10^5 runs.
    @Test func meanVarianceTailAndKolmogorovSmirnov() throws {
        let n = 1_000_000
        let z = draw(try GaussianNoiseSource(), n).map(Double.init)
        let mean = z.reduce(0, +) / Double(n)
        let variance = z.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n - 1)
        let critical = 4.89
        #expect(abs(mean) < critical / Double(n).squareRoot(), "mean \(mean)")
        #expect(abs(variance - 1) < critical * (2 / Double(n)).squareRoot(), "variance \(variance)")
        // P[|Z| > 3] = 0.0026998; binomial count.
        let p3 = 0.0026997960632601866
        let beyond3 = Double(z.filter { abs($0) > 3 }.count)
        #expect(abs(beyond3 - p3 * Double(n)) < critical * (Double(n) * p3 * (1 - p3)).squareRoot(), "beyond 3σ: \(beyond3)")
        let sorted = z.sorted()
        var statistic = 0.0
        for (i, value) in sorted.enumerated() {
            let cdf = standardNormalCDF(value)
            statistic = max(statistic, Double(i + 1) / Double(n) - cdf, cdf - Double(i) / Double(n))
        }
        let ksCritical = (-log(1e-6 / 2) / 2).squareRoot() / Double(n).squareRoot()
        #expect(statistic < ksCritical, "KS D = \(statistic), critical \(ksCritical)")
    }

    @Test func kernelSeededSourcesDiffer() throws {
        #expect(draw(try GaussianNoiseSource(), 8) != draw(try GaussianNoiseSource(), 8))
    }

    @Test func reproducibleSourceIsReproducibleAndSeedDependent() {
        let a = draw(GaussianNoiseSource.insecureReproducible(seed: 42), 1000)
        #expect(a == draw(GaussianNoiseSource.insecureReproducible(seed: 42), 1000))
        #expect(a != draw(GaussianNoiseSource.insecureReproducible(seed: 43), 1000))
        // Successive calls continue the stream instead of repeating it.
        let source = GaussianNoiseSource.insecureReproducible(seed: 42)
        #expect(draw(source, 1000) != draw(source, 1000))
    }

    /// A buffer spanning several parallel chunks (64 Ki values each) is one stream: its prefix
    /// is a short draw, and two successive draws, the first ending on a block boundary,
    /// concatenate to it.
    @Test func parallelChunksFormOneStream() {
        let n = 300_001
        let whole = draw(GaussianNoiseSource.insecureReproducible(seed: 9), n)
        let prefix = draw(GaussianNoiseSource.insecureReproducible(seed: 9), 65_536 + 5)
        #expect(Array(whole[0..<prefix.count]) == prefix)
        // The next call on a source continues at the next unused block.
        let source = GaussianNoiseSource.insecureReproducible(seed: 9)
        let first = draw(source, 65_536)
        let second = draw(source, n - 65_536)
        #expect(first + second == whole)
    }

    @Test func addNoiseAddsScaledNoise() {
        let noise = draw(GaussianNoiseSource.insecureReproducible(seed: 7), 1001, standardDeviation: 2)
        var values = [Float](repeating: 5, count: 1001)
        values.withUnsafeMutableBufferPointer {
            GaussianNoiseSource.insecureReproducible(seed: 7).addNoise(to: $0, standardDeviation: 2)
        }
        #expect(values == noise.map { 5 + $0 })
        let unit = draw(GaussianNoiseSource.insecureReproducible(seed: 7), 1001)
        #expect(zip(noise, unit).allSatisfy { abs($0 - 2 * $1) <= 1e-6 * abs($0) })
        #expect(draw(GaussianNoiseSource.insecureReproducible(seed: 7), 10, standardDeviation: 0) == [Float](repeating: 0, count: 10))
    }

    @Test func uniformsStayInTheirHalfOpenIntervals() {
        #expect(radiusUniform(0) == 0x1p-53)
        #expect(radiusUniform(.max) == 1)
        #expect(angleUniform(0) == 0)
        #expect(angleUniform(.max) == 1 - 0x1p-53)
        #expect(angleUniform(1 << 63) == 0.5)
        let (z0, z1) = boxMuller(radiusUniform(0), 0.125)
        #expect(abs(hypot(z0, z1) - (106 * log(2.0)).squareRoot()) < 1e-12)
        #expect(abs(z0 - z1) < 1e-12)
        #expect(boxMuller(1, 0.3) == (0, 0))
    }

    @Test func throughput() throws {
        let source = try GaussianNoiseSource()
        var values = [Float](repeating: 0, count: 4_000_000)
        let start = ContinuousClock.now
        values.withUnsafeMutableBufferPointer { source.addNoise(to: $0, standardDeviation: 1) }
        let seconds = (ContinuousClock.now - start) / .seconds(1)
        print("GaussianNoiseSource: \(Double(values.count) / seconds / 1e6) million floats/s")
        #expect(values.contains { $0 != 0 })
    }
}
