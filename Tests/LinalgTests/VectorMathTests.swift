// SPDX-License-Identifier: Apache-2.0
import CVectorMath
import Foundation
import Testing

/// CVectorMath's kernels against Double references, for the AVX-512F, AVX2 + FMA and
/// baseline builds alike (the narrower ones are forced on machines that have the wider).
@Suite(.serialized) struct VectorMathTests {
    /// Every input in steps of 2⁻¹², over the whole range where erf is not ±1 in Float and beyond.
    static let grid: [Float] = stride(from: -6.0, through: 6.0, by: 1.0 / 4096).map { Float($0) }

    /// The builds' levels, as `dptune_vector_math_limit` takes them.
    static let levels: [Int32] = [2, 1, 0]

    /// Runs `body` with the builds capped at `level`, then lifts the cap.
    private func with<R>(level: Int32, _ body: () -> R) -> R {
        dptune_vector_math_limit(level)
        defer { dptune_vector_math_limit(2) }
        return body()
    }

    private func exp(_ x: [Float]) -> [Float] {
        var out = [Float](repeating: 0, count: x.count)
        dptune_exp(&out, x, x.count)
        return out
    }

    private func erf(_ x: [Float]) -> (erf: [Float], gaussian: [Float]) {
        var erf = [Float](repeating: 0, count: x.count), gaussian = erf
        dptune_erf(&erf, &gaussian, x, x.count)
        return (erf, gaussian)
    }

    @Test func theWidestBuildTheCPUHasRunsUpToTheCap() throws {
        let flags = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
            .split(separator: "\n").first { $0.hasPrefix("flags") }.map { Set($0.split(separator: " ")) } ?? []
        let avx2: Int32 = flags.contains("avx2") && flags.contains("fma") ? 1 : 0
        #expect(with(level: 2) { dptune_vector_math_level() } == (flags.contains("avx512f") ? 2 : avx2))
        #expect(with(level: 1) { dptune_vector_math_level() } == avx2)
        #expect(with(level: 0) { dptune_vector_math_level() } == 0)
    }

    /// The AVX-512F and AVX2 builds run the same fused polynomials, sixteen or eight lanes
    /// at a time, so a training step's activations do not depend on which one the CPU has.
    @Test func theAVX512AndAVX2BuildsGiveTheSameBits() {
        let x = Self.grid, dout = x.indices.map { Float(1 + $0 % 3) }
        let exps = stride(from: -87.0, through: 88.0, by: 1.0 / 512).map { Float($0) }
        func outputs() -> [[Float]] {
            var forward = [Float](repeating: 0, count: x.count), backward = forward
            dptune_gelu_erf_forward(&forward, x, x.count)
            dptune_gelu_erf_backward(&backward, dout, x, x.count)
            let (e, g) = erf(x)
            return [forward, backward, e, g, exp(exps)]
        }
        let wide = with(level: 2) { outputs() }, narrow = with(level: 1) { outputs() }
        for (name, (a, b)) in zip(["gelu", "gelu'", "erf", "e^-x²", "exp"], zip(wide, narrow)) {
            #expect(a.map(\.bitPattern) == b.map(\.bitPattern), "\(name)")
        }
    }

    @Test(arguments: levels)
    func erfIsWithinOnePointTwoTimesTenToTheMinusSeven(level: Int32) {
        let got = with(level: level) { erf(Self.grid).erf }
        let worst = zip(got, Self.grid).map { abs(Double($0) - Foundation.erf(Double($1))) }.max() ?? .infinity
        #expect(worst < 1.2e-7, "max |erf error| \(worst)")
        #expect(with(level: level) { erf([0, -0.0, 30, -30, .infinity, -.infinity]).erf } == [0, -0.0, 1, -1, 1, -1])
    }

    /// `e^(-x²)` of the Float square: rounding x² already moves the exact value by up to
    /// x²·2⁻²⁴ relative (3e-6 at x = 6), as it would for `expf(-x * x)`.
    @Test(arguments: levels)
    func erfAlsoGivesExpOfMinusXSquared(level: Int32) {
        let gaussian = with(level: level) { erf(Self.grid).gaussian }
        let worst = zip(gaussian, Self.grid).map { g, v in abs(Double(g) / Foundation.exp(-Double(v * v)) - 1) }.max() ?? .infinity
        #expect(worst < 3 * Double(Float.ulpOfOne), "max relative e^-x² error \(worst)")
    }

    @Test(arguments: levels)
    func expIsWithinThreeUlpAndUnderflowsToExactZero(level: Int32) {
        let x = stride(from: -87.0, through: 88.0, by: 1.0 / 512).map { Float($0) }
        let got = with(level: level) { exp(x) }
        let worst = zip(got, x).map { abs(Double($0) / Foundation.exp(Double($1)) - 1) }.max() ?? .infinity
        #expect(worst < 3 * Double(Float.ulpOfOne), "max relative exp error \(worst)")
        #expect(with(level: level) { exp([-.infinity, -100, 0]) } == [0, 0, 1])
    }

    /// GELU and its derivative against Double: erf's 1.2e-7 scaled by `|x|/2`, plus rounding.
    @Test(arguments: levels)
    func geluAndItsDerivativeMatchDouble(level: Int32) {
        let x = Self.grid
        let dout = x.indices.map { Float(1 + $0 % 3) }
        var out = [Float](repeating: 0, count: x.count), dinput = [Float](repeating: .nan, count: x.count)
        with(level: level) {
            dptune_gelu_erf_forward(&out, x, x.count)
            dptune_gelu_erf_backward(&dinput, dout, x, x.count)
        }
        for i in x.indices {
            let v = Double(x[i]), cdf = 0.5 * (1 + Foundation.erf(v / 2.0.squareRoot()))
            let density = Foundation.exp(-v * v / 2) / (2 * Double.pi).squareRoot()
            let tolerance = 2e-7 * max(1, abs(v))
            #expect(abs(Double(out[i]) - v * cdf) <= tolerance, "gelu(\(v))")
            #expect(abs(Double(dinput[i]) - (cdf + v * density) * Double(dout[i])) <= 3 * tolerance, "gelu'(\(v))")
        }
    }

    /// Rows of every length 1–19 (a ragged last vector), with masked entries and a row
    /// that is all masked.
    @Test(arguments: levels)
    func softmaxRowsMatchDouble(level: Int32) {
        for K in 1...19 {
            let row = (0..<K).map { k in k % 4 == 3 ? -Float.infinity : Float(k * 7 % 11) - 5 }
            var out = [Float](repeating: .nan, count: K)
            with(level: level) { dptune_softmax_row(&out, row, K) }
            let maximum = Double(row.max() ?? 0)
            let exps = row.map { Foundation.exp(Double($0) - maximum) }
            let total = exps.reduce(0, +)
            for k in 0..<K { #expect(abs(Double(out[k]) - exps[k] / total) <= 2e-7, "K \(K), entry \(k)") }
        }
        var masked = [Float](repeating: .nan, count: 5)
        with(level: level) { dptune_softmax_row(&masked, [Float](repeating: -.infinity, count: 5), 5) }
        #expect(masked == [0, 0, 0, 0, 0])
    }
}
