// SPDX-License-Identifier: Apache-2.0
import Foundation
import Privacy
import TestSupport
import Testing

@Suite struct AnalyticGaussianTests {
    @Test(.disabled(if: SharedFixtures.mayBeSkipped, Comment(rawValue: SharedFixtures.skipMessage)))
    func matchesReferenceCalibration() throws {
        let root = try #require(try SharedFixtures.json("testvectors/accounting.json") as? [String: Any])
        let rows = try #require(root["analytic_gaussian"] as? [[String: Any]])
        #expect(rows.count == 10)
        var worst = 0.0
        for row in rows {
            let epsilon = try #require(row["epsilon"] as? Double)
            let delta = try #require(row["delta"] as? Double)
            let sensitivity = try #require(row["sensitivity"] as? Double)
            let reference = try #require(row["sigma"] as? Double)
            let sigma = try AnalyticGaussian.standardDeviation(epsilon: epsilon, delta: delta, sensitivity: sensitivity)
            worst = max(worst, abs(sigma - reference) / reference)
            #expect(abs(sigma - reference) <= 1e-6 * reference, "ε \(epsilon) δ \(delta): \(sigma) vs \(reference)")
        }
        print("analytic Gaussian: max relative difference \(worst)")
    }

    @Test func scalesWithSensitivityAndBeatsTheClassicalBound() throws {
        let unit = try AnalyticGaussian.standardDeviation(epsilon: 0.5, delta: 1e-5, sensitivity: 1)
        let scaled = try AnalyticGaussian.standardDeviation(epsilon: 0.5, delta: 1e-5, sensitivity: 3)
        #expect(abs(scaled - 3 * unit) <= 1e-9 * scaled)
        let classical = (2 * log(1.25 / 1e-5)).squareRoot() / 0.5
        #expect(unit < classical)
        #expect(AnalyticGaussian.delta(epsilon: 0.5, standardDeviation: unit, sensitivity: 1) <= 1e-5)
    }

    /// ε(σ, δ) inverts the calibration: at the σ calibrated for ε it gives ε (never more,
    /// since that σ is at or above the threshold), and 0 where δ(0) already meets δ.
    @Test func epsilonInvertsTheCalibration() throws {
        for (epsilon, delta) in [(0.001, 1e-5), (0.5, 1e-5), (6.0, 1e-5), (20.0, 1e-9), (1.0, 0.3)] {
            let sigma = try AnalyticGaussian.standardDeviation(epsilon: epsilon, delta: delta, sensitivity: 1)
            let back = AnalyticGaussian.epsilon(delta: delta, standardDeviation: sigma, sensitivity: 1)
            #expect(back <= epsilon * (1 + 1e-12) && back >= epsilon * (1 - 1e-6), "ε \(epsilon) δ \(delta): \(back)")
            #expect(AnalyticGaussian.delta(epsilon: back, standardDeviation: sigma, sensitivity: 1) <= delta)
        }
        #expect(AnalyticGaussian.epsilon(delta: 0.5, standardDeviation: 100, sensitivity: 1) == 0)
    }

    @Test func badArgumentsThrow() {
        #expect(throws: PrivacyError.self) { try AnalyticGaussian.standardDeviation(epsilon: 0, delta: 1e-5, sensitivity: 1) }
        #expect(throws: PrivacyError.self) { try AnalyticGaussian.standardDeviation(epsilon: 1, delta: 0, sensitivity: 1) }
        #expect(throws: PrivacyError.self) { try AnalyticGaussian.standardDeviation(epsilon: 1, delta: 1e-5, sensitivity: -1) }
    }
}
