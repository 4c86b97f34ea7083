// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Foundation
import Privacy
import Testing
import TestSupport
import Transformer

/// The DP-Forward plugin through the real loader, on MiniLM.
@Suite(.disabled(if: SharedFixtures.mayBeSkipped, Comment(rawValue: SharedFixtures.skipMessage)))
struct DPForwardPluginTests {
    static func adapter(epsilon: Double = 8, options: String = "", delta: Double = 1e-5) throws -> any Adapter {
        let staging = FileManager.default.temporaryDirectory.appendingPathComponent("staging-\(UUID().uuidString)")
        let strategy = try PluginLoader(stagingDirectory: staging).load(BuildProducts.library("DPForward")).strategy
        let backbone = try loadBackbone(directory: SharedFixtures.url("models/minilm-l6"))
        return try strategy.makeAdapter(backbone: backbone, configuration: AdapterConfiguration(
            options: StrategyOptions(json: options, schema: strategy.options), objective: .classify,
            tasks: ["t"], labels: ["t": ["a", "b"]], seed: 1, clip: 1, epsilon: epsilon, delta: delta))
    }

    /// The hidden-state hook at ε 8 with `feature_clip` 3, and its noise std σ (sensitivity
    /// 2C = 6); nil when the adapter is not the forward-perturbation one expected.
    static func clippingHook() throws -> (hook: any HiddenStateHook, sigma: Double)? {
        let adapter = try adapter(epsilon: 8, options: #"{"feature_clip": 3}"#)
        guard let hook = adapter as? any HiddenStateHook,
              case .forwardPerturbation(.gaussian(let multiplier), _) = adapter.mechanism else { return nil }
        return (hook, multiplier * 6)
    }

    static func meanAndStandardDeviation(_ values: [Double]) -> (mean: Double, std: Double) {
        let mean = values.reduce(0, +) / Double(values.count)
        return (mean, (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1)).squareRoot())
    }

    /// The feature event is the analytic Gaussian at sensitivity 2C for (ε·(1 − share), δ):
    /// PLD prices it back to that ε, and the label gets the rest by randomized response.
    /// `gaussian(z)` is the loss between N(0, z²) and N(1, z²), so z = σ/2C states the
    /// replacement of a whole sequence; the ledger's accountants price it as it stands.
    @Test func reportsTheCalibratedLocalEvent() throws {
        let adapter = try Self.adapter(epsilon: 4, options: #"{"feature_clip": 2.5, "label_epsilon_share": 0.25}"#)
        guard case .forwardPerturbation(let featureEvent, let labelEpsilon) = adapter.mechanism,
              case .gaussian(let multiplier) = featureEvent else {
            Issue.record("dp-forward must report forward perturbation with a Gaussian feature event")
            return
        }
        #expect(abs(labelEpsilon - 1) < 1e-12)
        let sigma = try AnalyticGaussian.standardDeviation(epsilon: 3, delta: 1e-5, sensitivity: 5)
        #expect(abs(multiplier - sigma / 5) < 1e-12)
        var accountant = PLDAccountant()
        try accountant.compose(featureEvent)
        let priced = try accountant.epsilon(delta: 1e-5)
        #expect(abs(priced - 3) < 0.01, "PLD prices the feature event at ε \(priced)")
    }

    /// Each sequence's whole matrix comes out as (clipped input + N(0, σ²)), padding rows
    /// alike: the residual after removing the clipped input has the calibrated std on every
    /// entry, and the clip's norm counts every row. A padding row left at zero would tell
    /// the record's length.
    @Test func clipsEachWholeMatrixAndNoisesEveryEntry() throws {
        let (hook, sigma) = try #require(try Self.clippingHook())
        let (B, T, C) = (4, 50, 384)
        var generator = SystemRandomNumberGenerator()
        let input = (0..<(B * T * C)).map { _ in Float.random(in: -2...2, using: &generator) }
        var hidden = input
        var mask = [Float](repeating: 1, count: B * T)
        for t in 40..<T { mask[3 * T + t] = 0 }
        hidden.withUnsafeMutableBufferPointer { h in
            mask.withUnsafeBufferPointer { hook.forward(hidden: h.baseAddress!, mask: $0.baseAddress!, batch: B, seqLen: T, width: C) }
        }
        var residuals: [Double] = []
        for b in 0..<B {
            let entries = (b * T * C)..<((b + 1) * T * C)
            let norm = entries.reduce(0.0) { $0 + Double(input[$1] * input[$1]) }.squareRoot()
            #expect(norm > 3)  // every sequence here is above C, so clipping is exercised
            let scale = 3 / norm
            residuals += entries.map { Double(hidden[$0]) - scale * Double(input[$0]) }
        }
        let padding = residuals[(3 * T * C + 40 * C)..<(4 * T * C)]
        #expect(!padding.contains(0))
        // 76,800 draws: the sample std is within 1% of σ with overwhelming probability;
        // the 3,840 of the padding rows within 5%.
        #expect(abs(Self.meanAndStandardDeviation(residuals).std / sigma - 1) < 0.01)
        #expect(abs(Self.meanAndStandardDeviation(Array(padding)).std / sigma - 1) < 0.05)
    }

    /// A sequence with a NaN or an infinity comes out as the noise alone (finite, std σ),
    /// where before the NaN went through to the release.
    @Test func aNonFiniteSequenceIsReleasedAsNoise() throws {
        let (hook, sigma) = try #require(try Self.clippingHook())
        let (B, T, C) = (3, 50, 384)
        var hidden = [Float](repeating: 0.01, count: B * T * C)
        hidden[7] = .nan
        hidden[2 * T * C + 11] = .infinity
        let mask = [Float](repeating: 1, count: B * T)
        hidden.withUnsafeMutableBufferPointer { h in
            mask.withUnsafeBufferPointer { hook.forward(hidden: h.baseAddress!, mask: $0.baseAddress!, batch: B, seqLen: T, width: C) }
        }
        #expect(hidden.allSatisfy { $0.isFinite })
        for b in [0, 2] {
            let (mean, std) = Self.meanAndStandardDeviation(hidden[(b * T * C)..<((b + 1) * T * C)].map(Double.init))
            // 19,200 draws of the noise alone: mean near 0, std within 3% of σ.
            #expect(abs(mean) < 0.05 * sigma && abs(std / sigma - 1) < 0.03)
        }
    }

    @Test func refusesBadOptions() throws {
        let error = try #require(throws: AdapterError.self) { try Self.adapter(options: #"{"label_epsilon_share": 1.5}"#) }
        #expect(error.code == .invalidOption)
        #expect(error.message.contains("label_epsilon_share"))
    }
}
