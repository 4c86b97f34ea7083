// SPDX-License-Identifier: Apache-2.0
import Foundation
import Privacy
import Testing

/// The contract every accountant keeps (STYLE 32). Append a factory to ``accountants`` and
/// the whole suite runs against the new accountant.
@Suite struct AccountantConformanceTests {
    /// A named way to make a fresh accountant.
    struct Factory: Sendable, CustomTestStringConvertible {
        let name: String
        let make: @Sendable (NeighboringRelation) -> any PrivacyAccountant
        /// Whether ε of a Gaussian comes from its RDP curve α/(2σ²).
        let isRDP: Bool
        /// Relative agreement expected between equal compositions computed different ways
        /// (an RDP accountant adds curves exactly; a discretized one may not).
        let tolerance: Double
        var testDescription: String { name }
    }

    static let accountants: [Factory] = [
        Factory(name: "rdp", make: { RDPAccountant(neighboringRelation: $0) }, isRDP: true, tolerance: 1e-9),
    ]

    static let step = DpEvent.poissonSampled(probability: 0.02, event: .gaussian(noiseMultiplier: 1.2))

    @Test(arguments: accountants)
    func noEventsCostNothing(_ factory: Factory) throws {
        let accountant = factory.make(.addOrRemoveOne)
        #expect(try accountant.epsilon(delta: 1e-5) == 0)
        #expect(try accountant.delta(epsilon: 0.1) == 0)
    }

    @Test(arguments: accountants)
    func noOpCostsNothing(_ factory: Factory) throws {
        var accountant = factory.make(.addOrRemoveOne)
        try accountant.compose(.noOp, count: 7)
        #expect(try accountant.epsilon(delta: 1e-5) == 0)
    }

    @Test(arguments: accountants)
    func nonPrivateIsInfinite(_ factory: Factory) throws {
        var accountant = factory.make(.addOrRemoveOne)
        try accountant.compose(.composed([Self.step, .nonPrivate]))
        #expect(try accountant.epsilon(delta: 1e-5) == .infinity)
        #expect(try accountant.delta(epsilon: 10) == 1)
    }

    @Test(arguments: accountants)
    func nestedUnsupportedEventIsNamed(_ factory: Factory) throws {
        var accountant = factory.make(.addOrRemoveOne)
        let nested = DpEvent.composed([Self.step, .selfComposed(event: .unsupported(reason: "secret-sauce"), count: 3)])
        #expect(!accountant.supports(nested))
        #expect(accountant.supports(Self.step))
        let error = try #require(throws: PrivacyError.self) { try accountant.compose(nested) }
        #expect(error.code == .unsupportedEvent)
        #expect(error.message.contains("secret-sauce"), "\(error.message)")
        #expect(try accountant.epsilon(delta: 1e-5) == 0, "a refused event leaves the accountant unchanged")
    }

    @Test(arguments: accountants)
    func compositionIdentities(_ factory: Factory) throws {
        func epsilon(_ compose: (inout any PrivacyAccountant) throws -> Void) throws -> Double {
            var accountant = factory.make(.addOrRemoveOne)
            try compose(&accountant)
            return try accountant.epsilon(delta: 1e-5)
        }
        let counted = try epsilon { try $0.compose(Self.step, count: 6) }
        let selfComposed = try epsilon { try $0.compose(.selfComposed(event: Self.step, count: 6)) }
        let composed = try epsilon { try $0.compose(.composed(Array(repeating: Self.step, count: 6))) }
        let oneByOne = try epsilon { accountant in for _ in 0..<6 { try accountant.compose(Self.step) } }
        for other in [selfComposed, composed, oneByOne] {
            #expect(abs(other - counted) <= factory.tolerance * counted, "\(other) vs \(counted)")
        }
        #expect(counted > 0)
    }

    @Test(arguments: accountants.filter(\.isRDP))
    func gaussianMatchesClosedFormRDP(_ factory: Factory) throws {
        var accountant = factory.make(.addOrRemoveOne)
        let sigma = 3.0
        try accountant.compose(.gaussian(noiseMultiplier: sigma), count: 2)
        let orders = RDPAccountant.defaultOrders
        let closedForm = orders.map { 2 * $0 / (2 * sigma * sigma) }
        let expected = epsilonFromRDP(orders: orders, rdp: closedForm, delta: 1e-6).epsilon
        let actual = try accountant.epsilon(delta: 1e-6)
        #expect(abs(actual - expected) <= 1e-12 * expected, "\(actual) vs \(expected)")
    }

    @Test(arguments: accountants)
    func epsilonDeltaRoundTrip(_ factory: Factory) throws {
        var accountant = factory.make(.addOrRemoveOne)
        try accountant.compose(Self.step, count: 500)
        for delta in [1e-3, 1e-5, 1e-8] {
            let epsilon = try accountant.epsilon(delta: delta)
            let back = try accountant.delta(epsilon: epsilon)
            #expect(abs(back - delta) <= factory.tolerance * delta, "δ(ε(δ)) = \(back) vs δ = \(delta)")
            #expect(try accountant.epsilon(delta: back) <= epsilon * (1 + factory.tolerance))
        }
    }
}
