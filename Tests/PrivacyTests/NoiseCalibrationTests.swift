// SPDX-License-Identifier: Apache-2.0
import Foundation
import Privacy
import TestSupport
import Testing

@Suite struct NoiseCalibrationTests {
    /// dp_accounting's `calibrate_dp_mechanism` with its RDP accountant (default orders,
    /// absolute tolerance 1e-6) over T Poisson-sampled Gaussian steps.
    @Test(.disabled(if: SharedFixtures.mayBeSkipped, Comment(rawValue: SharedFixtures.skipMessage)))
    func matchesDpAccountingRDPCalibration() throws {
        let root = try #require(try SharedFixtures.json("testvectors/accounting.json") as? [String: Any])
        let rows = try #require(root["calibration"] as? [[String: Any]])
        #expect(rows.count == 9)
        var worst = 0.0
        for row in rows {
            let target = try #require(row["target_epsilon"] as? Double)
            let delta = try #require(row["delta"] as? Double)
            let q = try #require(row["q"] as? Double)
            let steps = try #require(row["steps"] as? Int)
            let reference = try #require(row["rdp_sigma"] as? Double)
            let sigma = try NoiseCalibration.noiseMultiplier(
                targetEpsilon: target, delta: delta, samplingRate: q, steps: steps,
                makeAccountant: { RDPAccountant(neighboringRelation: $0) })
            worst = max(worst, abs(sigma - reference) / reference)
            #expect(abs(sigma - reference) <= 1e-3 * reference, "ε \(target) q \(q) T \(steps): \(sigma) vs \(reference)")
            var accountant = RDPAccountant()
            try accountant.compose(.poissonSampled(probability: q, event: .gaussian(noiseMultiplier: sigma)), count: steps)
            #expect(try accountant.epsilon(delta: delta) <= target, "the calibrated σ meets the target")
        }
        print("RDP calibration: max relative difference from dp_accounting \(worst)")
    }

    @Test func resultIsTheThresholdWithinTolerance() throws {
        let make: (NeighboringRelation) -> any PrivacyAccountant = { RDPAccountant(neighboringRelation: $0) }
        let sigma = try NoiseCalibration.noiseMultiplier(
            targetEpsilon: 2, delta: 1e-5, samplingRate: 0.05, steps: 200, tolerance: 1e-9, makeAccountant: make)
        func epsilon(_ sigma: Double) throws -> Double {
            var accountant = make(.addOrRemoveOne)
            try accountant.compose(.poissonSampled(probability: 0.05, event: .gaussian(noiseMultiplier: sigma)), count: 200)
            return try accountant.epsilon(delta: 1e-5)
        }
        #expect(try epsilon(sigma) <= 2)
        #expect(try epsilon(sigma * (1 - 1e-8)) > 2)
    }

    /// Full batches (q = 1) over 2,700 steps amount to one Gaussian of σ/√2700: at σ = 1 its
    /// loss grid is over the PLD accountant's limit. That means "more noise", not failure; the
    /// answer is the threshold, which a direct PLD evaluation confirms.
    @Test func aGridTooLargeAtTheStartMovesTheSearchUp() throws {
        let make: (NeighboringRelation) -> any PrivacyAccountant = { PLDAccountant(neighboringRelation: $0) }
        func epsilon(_ sigma: Double) throws -> Double {
            var accountant = make(.addOrRemoveOne)
            try accountant.compose(.poissonSampled(probability: 1, event: .gaussian(noiseMultiplier: sigma)), count: 2_700)
            return try accountant.epsilon(delta: 1e-5)
        }
        #expect(throws: PrivacyError(.gridTooLarge, "")) { try epsilon(1) }
        let sigma = try NoiseCalibration.noiseMultiplier(
            targetEpsilon: 8, delta: 1e-5, samplingRate: 1, steps: 2_700, tolerance: 1e-6, makeAccountant: make)
        #expect(try epsilon(sigma) <= 8)
        #expect(try epsilon(sigma * (1 - 1e-4)) > 8, "σ = \(sigma) is the threshold, not just some σ that fits")
    }

    /// Only a grid refusal means "more noise": anything else the accountant throws still ends
    /// the search (PLD prices Poisson sampling under add-or-remove adjacency only).
    @Test func otherAccountantErrorsStillPropagate() throws {
        let error = try #require(throws: PrivacyError.self) {
            try NoiseCalibration.noiseMultiplier(
                targetEpsilon: 8, delta: 1e-5, samplingRate: 0.5, steps: 10, neighboringRelation: .replaceOne,
                makeAccountant: { PLDAccountant(neighboringRelation: $0) })
        }
        #expect(error.code == .unsupportedEvent)
    }

    @Test func badArgumentsAreNamed() throws {
        let make: (NeighboringRelation) -> any PrivacyAccountant = { RDPAccountant(neighboringRelation: $0) }
        let cases: [(String, () throws -> Double)] = [
            ("sampling rate", { try NoiseCalibration.noiseMultiplier(targetEpsilon: 1, delta: 1e-5, samplingRate: 0, steps: 10, makeAccountant: make) }),
            ("delta", { try NoiseCalibration.noiseMultiplier(targetEpsilon: 1, delta: 1, samplingRate: 0.1, steps: 10, makeAccountant: make) }),
            ("steps", { try NoiseCalibration.noiseMultiplier(targetEpsilon: 1, delta: 1e-5, samplingRate: 0.1, steps: 0, makeAccountant: make) }),
            ("epsilon", { try NoiseCalibration.noiseMultiplier(targetEpsilon: -1, delta: 1e-5, samplingRate: 0.1, steps: 10, makeAccountant: make) }),
        ]
        for (name, call) in cases {
            let error = try #require(throws: PrivacyError.self) { _ = try call() }
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains(name), "\(error.message)")
        }
    }
}
