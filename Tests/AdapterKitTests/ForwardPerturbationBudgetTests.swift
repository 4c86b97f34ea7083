// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Privacy
import Testing

@Suite struct ForwardPerturbationBudgetTests {
    /// The price is the costliest task's response: the fewest labels of at least two. A
    /// one-label task releases nothing and is left out, so it cannot make the price k = 1
    /// (free) while another task's labels are released.
    @Test func theLabelReleaseIsPricedAtTheFewestLabelsOfAtLeastTwo() throws {
        #expect(ForwardPerturbationBudget.pricedLabelCount([1, 2, 77]) == 2)
        #expect(ForwardPerturbationBudget.pricedLabelCount([6, 4, 77]) == 4)
        #expect(ForwardPerturbationBudget.pricedLabelCount([1, 1]) == 1)
        #expect(ForwardPerturbationBudget.pricedLabelCount([]) == 2)
        let budget = try ForwardPerturbationBudget(epsilon: 1, delta: 1e-5, labelShare: 0.25)
        #expect(try budget.event(labelCounts: [1, 6]) == .composed([
            .gaussian(noiseMultiplier: try budget.featureNoiseMultiplier()), .randomizedResponse(k: 6, epsilon: 0.25)]))
    }

    /// Why the fewest: at one ε, k-ary randomized response costs more, at every δ the
    /// accountant is asked, the fewer labels it chooses among.
    @Test func fewerLabelsCostMore() throws {
        func epsilon(k: Int, delta: Double) throws -> Double {
            var accountant = RDPAccountant(neighboringRelation: .replaceOne)
            try accountant.compose(.randomizedResponse(k: k, epsilon: 0.5), count: 1)
            return try accountant.epsilon(delta: delta)
        }
        for delta in [1e-3, 1e-5, 1e-8] {
            let costs = try [2, 3, 6, 77].map { try epsilon(k: $0, delta: delta) }
            #expect(zip(costs, costs.dropFirst()).allSatisfy { $0 > $1 }, "δ \(delta): \(costs)")
        }
    }
}
