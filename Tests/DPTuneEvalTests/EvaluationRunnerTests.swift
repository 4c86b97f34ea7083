// SPDX-License-Identifier: Apache-2.0
import Privacy
import Testing
@testable import dptune_eval

@Suite struct EvaluationRunnerTests {
    @Test func gradientRunsArePricedByPLD() throws {
        let event = DpEvent.poissonSampled(probability: 0.01, event: .gaussian(noiseMultiplier: 1)).repeated(1000)
        var accountant = PLDAccountant(neighboringRelation: .addOrRemoveOne)
        try accountant.compose(event)
        #expect(try EvaluationRunner.price(event, delta: 1e-5) == accountant.epsilon(delta: 1e-5))
    }

    @Test func labelReleasesAddTheirPureEpsilon() throws {
        let feature = DpEvent.gaussian(noiseMultiplier: 2)
        var accountant = PLDAccountant(neighboringRelation: .addOrRemoveOne)
        try accountant.compose(feature)
        let featureEpsilon = try accountant.epsilon(delta: 1e-5)
        let priced = try EvaluationRunner.price(.composed([feature, .randomizedResponse(k: 4, epsilon: 0.5)]), delta: 1e-5)
        #expect(abs(priced - (featureEpsilon + 0.5)) < 1e-12)
    }

    @Test func nonPrivateIsInfinite() throws {
        #expect(try EvaluationRunner.price(.nonPrivate, delta: 1e-5) == .infinity)
    }
}
