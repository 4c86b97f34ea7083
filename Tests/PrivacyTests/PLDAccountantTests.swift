// SPDX-License-Identifier: Apache-2.0
import Foundation
import Privacy
import TestSupport
import Testing

@Suite struct PLDAccountantTests {
    private struct Row {
        let q: Double, sigma: Double, steps: Int
        let pld: [Double: Double]
        let prv: [Double: [Double]]
    }

    private static func rows() throws -> [Row] {
        let root = try #require(SharedFixtures.json("testvectors/accounting.json") as? [String: Any])
        let entries = try #require(root["epsilon"] as? [[String: Any]])
        return entries.compactMap { entry in
            var pld: [Double: Double] = [:], prv: [Double: [Double]] = [:]
            for delta in [1e-5, 1e-6] {
                let key = delta == 1e-5 ? "1e-05" : "1e-06"
                if let value = entry["pld_eps@\(key)"] as? Double { pld[delta] = value }
                if let value = entry["prv_eps@\(key)"] as? [Double] { prv[delta] = value }
            }
            guard !pld.isEmpty, let q = entry["q"] as? Double, let sigma = entry["sigma"] as? Double,
                  let steps = entry["steps"] as? Int else { return nil }
            return Row(q: q, sigma: sigma, steps: steps, pld: pld, prv: prv)
        }
    }

    @Test(.disabled(if: SharedFixtures.mayBeSkipped, Comment(rawValue: SharedFixtures.skipMessage)))
    func matchesDpAccountingAndPRV() throws {
        let rows = try Self.rows()
        #expect(rows.count > 50)
        var worst = 0.0
        for row in rows {
            var accountant = PLDAccountant()
            let start = ContinuousClock.now
            try accountant.compose(.poissonSampled(probability: row.q, event: .gaussian(noiseMultiplier: row.sigma)), count: row.steps)
            for (delta, expected) in row.pld {
                let epsilon = try accountant.epsilon(delta: delta)
                let relative = abs(epsilon - expected) / expected
                worst = max(worst, relative)
                #expect(relative < 0.005, "q \(row.q) σ \(row.sigma) T \(row.steps) δ \(delta): \(epsilon) vs dp_accounting \(expected)")
            }
            print("q \(row.q) σ \(row.sigma) T \(row.steps): \(ContinuousClock.now - start)")
        }
        print("worst relative difference to dp_accounting: \(worst)")
    }
}
