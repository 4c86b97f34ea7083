// SPDX-License-Identifier: Apache-2.0
import Foundation
import Synchronization

/// An accountant that composes discretized privacy loss distributions (PLDs).
///
/// It reports the ε of a single job more tightly than RDP (at 10^4 Poisson-sampled Gaussian
/// steps, 7–9% lower at q = 0.01 and up to 40% lower at q = 0.001, σ < 1), and matches
/// Google's dp_accounting `PLDAccountant` (to 1e-6 relative on the shared test vectors):
/// pessimistic connect-the-dots discretization on a grid of `valueDiscretizationInterval`,
/// both the remove and the add direction under add-or-remove adjacency, tail truncation
/// charged to the infinite loss, and composition by FFT. Every approximation rounds towards
/// more privacy loss, so the reported ε never under-counts beyond floating-point rounding.
///
/// Composing is cheap (it records counts); the PLD is built by the first `epsilon`/`delta`
/// after a change, in about 0.06 s of CPU for 10^4 steps at q = 0.01, σ = 1.
///
/// Do not use it for admission across jobs (DESIGN §4.2): stopping when a composed PLD reaches
/// a target is not a valid privacy filter under adaptive choice.
///
/// Priced events: `gaussian`, `poissonSampled(gaussian)` (add-or-remove only), `selfComposed`,
/// `composed`, `noOp`, `nonPrivate` (ε = ∞) and `randomizedResponse` (replace-one only, as the
/// event's own adjacency is the replacement of one value). A mechanism whose loss grid would
/// exceed `maximumGridLength` points (by default 2^25, e.g. σ ≪ 0.1 at interval 1e-4) is
/// refused with `.gridTooLarge` instead of exhausting memory.
public struct PLDAccountant: PrivacyAccountant {
    public let neighboringRelation: NeighboringRelation
    /// The grid spacing of privacy losses; smaller is tighter and slower.
    public let valueDiscretizationInterval: Double
    /// The longest loss grid or transform built; anything longer is refused with
    /// `.gridTooLarge`. Memory and time grow with it: one grid of n points holds a few
    /// arrays of n Doubles while it is built, and costs about 0.1 s per 10^6 points.
    public let maximumGridLength: Int
    /// 2^25 points (256 MiB per array): room for any ε anyone would certify at interval 1e-4.
    public static let defaultMaximumGridLength = PLDPmf.maximumLength
    public var ledger: DpEvent { .composed(events) }

    private var events: [DpEvent] = []
    /// Each Poisson-sampled Gaussian or randomized response with its total count, in order of
    /// first appearance. Composition is commutative, so a mechanism composed one step at a time
    /// is priced by one self-composition, not by 10^4 growing convolutions.
    private var groups: [(mechanism: Mechanism, count: Int)] = []
    /// Σ T_i/σ_i² over unsampled Gaussians: together they are exactly one Gaussian with
    /// σ = (Σ T_i/σ_i²)^(−1/2).
    private var gaussianPrecision = 0.0
    private var containsNonPrivate = false
    /// The composed PLD, built on first use; replaced (never mutated) when the state changes,
    /// so copies of the accountant never share a stale one.
    private var cache = DistributionCache()

    private enum Mechanism: Hashable, Sendable {
        case poissonGaussian(sigma: Double, samplingProbability: Double)
        case randomizedResponse(k: Int, epsilon: Double)
    }

    /// What the traversal found, with how many times it runs.
    private enum Priced {
        case gaussian(sigma: Double, count: Int)
        case grouped(Mechanism, count: Int)
        case nonPrivate
    }

    private final class DistributionCache: Sendable {
        let distribution = Mutex<PrivacyLossDistribution?>(nil)
    }

    /// - Parameters:
    ///   - valueDiscretizationInterval: loss grid spacing, > 0 (dp_accounting's default 1e-4).
    ///   - neighboringRelation: fixed for the accountant's life.
    ///   - maximumGridLength: the longest loss grid built, ≥ 1.
    public init(valueDiscretizationInterval: Double = 1e-4, neighboringRelation: NeighboringRelation = .addOrRemoveOne,
                maximumGridLength: Int = PLDAccountant.defaultMaximumGridLength) {
        precondition(valueDiscretizationInterval > 0 && valueDiscretizationInterval.isFinite,
                     "valueDiscretizationInterval must be positive and finite; found \(valueDiscretizationInterval)")
        precondition(maximumGridLength >= 1, "maximumGridLength must be at least 1; found \(maximumGridLength)")
        self.valueDiscretizationInterval = valueDiscretizationInterval
        self.maximumGridLength = maximumGridLength
        self.neighboringRelation = neighboringRelation
    }

    /// Whether `compose(event)` would succeed: the same traversal and grid checks, applied to
    /// a copy of the state that is then dropped.
    public func supports(_ event: DpEvent) -> Bool {
        (try? composedState(event, count: 1)) != nil
    }

    public mutating func compose(_ event: DpEvent, count: Int) throws {
        // Plan on a copy first: a throw leaves the accountant unchanged.
        let state = try composedState(event, count: count)
        (groups, gaussianPrecision, containsNonPrivate) = state
        cache = DistributionCache()
        if count > 0 { events.append(event.repeated(count)) }
    }

    /// The accountant's state after composing `event` `count` times.
    private func composedState(_ event: DpEvent, count: Int) throws
        -> (groups: [(mechanism: Mechanism, count: Int)], precision: Double, nonPrivate: Bool) {
        guard count >= 0 else {
            throw PrivacyError(.invalidArgument, "composition count must be ≥ 0; found \(count)")
        }
        var priced: [Priced] = []
        try maybeCompose(event, count: count) { priced.append($0) }
        var groups = self.groups
        var precision = gaussianPrecision
        var nonPrivate = containsNonPrivate
        for item in priced {
            switch item {
            case .nonPrivate:
                nonPrivate = true
            case .gaussian(let sigma, let runs):
                precision += Double(runs) / (sigma * sigma)
            case .grouped(let mechanism, let runs):
                if let index = groups.firstIndex(where: { $0.mechanism == mechanism }) {
                    let (total, overflow) = groups[index].count.addingReportingOverflow(runs)
                    guard !overflow else {
                        throw PrivacyError(.invalidArgument, "composition count overflows Int for \(event.stableJSON)")
                    }
                    groups[index].count = total
                } else {
                    try checkGrid(mechanism)
                    groups.append((mechanism, runs))
                }
            }
        }
        if precision != gaussianPrecision { try checkGrid(gaussianPrecision: precision) }
        return (groups, precision, nonPrivate)
    }

    public func epsilon(delta: Double) throws -> Double {
        guard delta >= 0 && delta <= 1 else {
            throw PrivacyError(.invalidArgument, "delta must be in [0, 1]; found \(delta)")
        }
        if containsNonPrivate { return .infinity }
        let distribution = try current()
        // Nothing a Gaussian or randomized response releases has infinite loss: mass at +∞ is
        // what truncating the tails moved there, pessimistically. A δ at or below it is not
        // priced at ε = ∞: that drove calibration to σ ≈ 3000 for δ = 1e-15, where RDP needs 1.3.
        let truncated = max(distribution.remove.infinityMass, distribution.add?.infinityMass ?? 0)
        guard truncated <= delta else {
            throw PrivacyError(.unsupportedEvent, "delta \(delta) is below the \(truncated) of probability the PLD accountant's discretization moves to infinite loss, so it cannot certify it; use the RDP accountant for a delta this small")
        }
        return distribution.epsilon(delta: delta)
    }

    public func delta(epsilon: Double) throws -> Double {
        guard !epsilon.isNaN else { throw PrivacyError(.invalidArgument, "epsilon must be a number; found NaN") }
        if containsNonPrivate { return 1 }
        return min(1, max(0, try current().delta(epsilon: epsilon)))
    }

    /// The PLD of everything composed so far.
    ///
    /// - Throws: ``PrivacyError`` `.gridTooLarge` when a self-composition would need a grid
    ///   beyond ``maximumGridLength``.
    private func current() throws -> PrivacyLossDistribution {
        try cache.distribution.withLock { cached in
            if let cached { return cached }
            let interval = valueDiscretizationInterval
            var result: PrivacyLossDistribution?
            if gaussianPrecision > 0 {
                result = try .gaussian(sigma: 1 / gaussianPrecision.squareRoot(), sensitivity: sensitivity,
                                       samplingProbability: 1, interval: interval, limit: maximumGridLength)
            }
            for (mechanism, count) in groups {
                let pld = try singleStep(mechanism).selfComposed(count, limit: maximumGridLength)
                result = try result.map { try $0.composed(with: pld, limit: maximumGridLength) } ?? pld
            }
            let distribution = result ?? PrivacyLossDistribution(remove: .identity(interval: interval), add: nil)
            cached = distribution
            return distribution
        }
    }

    /// Replacing one record moves a sum by up to twice the clip norm.
    private var sensitivity: Double { neighboringRelation == .replaceOne ? 2 : 1 }

    private func singleStep(_ mechanism: Mechanism) throws -> PrivacyLossDistribution {
        switch mechanism {
        case .poissonGaussian(let sigma, let q):
            return try .gaussian(sigma: sigma, sensitivity: sensitivity, samplingProbability: q,
                                 interval: valueDiscretizationInterval, limit: maximumGridLength)
        case .randomizedResponse(let k, let epsilon):
            return .randomizedResponse(k: k, epsilon: epsilon, interval: valueDiscretizationInterval)
        }
    }

    /// Refuses a single-step grid beyond ``maximumGridLength`` before anything is built.
    private func checkGrid(_ mechanism: Mechanism) throws {
        guard case .poissonGaussian(let sigma, let q) = mechanism else { return }
        try PLDPmf.checkGrid(SubsampledGaussianLoss(sigma: sigma, sensitivity: sensitivity, samplingProbability: q,
                                                    adjacency: .remove),
                             interval: valueDiscretizationInterval, limit: maximumGridLength)
    }

    private func checkGrid(gaussianPrecision precision: Double) throws {
        try PLDPmf.checkGrid(SubsampledGaussianLoss(sigma: 1 / precision.squareRoot(), sensitivity: sensitivity,
                                                    samplingProbability: 1, adjacency: .remove),
                             interval: valueDiscretizationInterval, limit: maximumGridLength)
    }

    /// The one traversal behind both `supports` and `compose` (through `composedState`).
    ///
    /// Reports each priced mechanism to `apply` and throws on the first sub-event it cannot
    /// price, naming it.
    private func maybeCompose(_ event: DpEvent, count: Int, apply: (Priced) -> Void) throws {
        switch event {
        case .noOp:
            return
        case .nonPrivate:
            if count > 0 { apply(.nonPrivate) }
        case .gaussian(let sigma):
            try Self.validate(sigma: sigma, in: event)
            if count == 0 || sigma == .infinity { return }
            apply(sigma == 0 ? .nonPrivate : .gaussian(sigma: sigma, count: count))
        case .poissonSampled(let q, let inner):
            guard q >= 0 && q <= 1 else {
                throw PrivacyError(.invalidArgument, "sampling probability must be in [0, 1]; found \(q) in \(event.stableJSON)")
            }
            guard case .gaussian(let sigma) = inner else {
                throw PrivacyError(.unsupportedEvent,
                                   "PLD accountant prices Poisson sampling of a Gaussian only; found \(inner.stableJSON)")
            }
            try Self.validate(sigma: sigma, in: inner)
            if q < 1 && neighboringRelation == .replaceOne {
                throw PrivacyError(.unsupportedEvent,
                                   "PLD accountant prices Poisson sampling under add-or-remove adjacency only; found \(event.stableJSON) under replace-one")
            }
            if count == 0 || q == 0 || sigma == .infinity { return }
            if sigma == 0 {
                apply(.nonPrivate)
            } else {
                apply(q == 1 ? .gaussian(sigma: sigma, count: count)
                             : .grouped(.poissonGaussian(sigma: sigma, samplingProbability: q), count: count))
            }
        case .selfComposed(let inner, let innerCount):
            let (total, overflow) = count.multipliedReportingOverflow(by: innerCount)
            guard innerCount >= 0, !overflow else {
                throw PrivacyError(.invalidArgument, "self-composition count must be in [0, Int.max / \(count)]; found \(innerCount)")
            }
            try maybeCompose(inner, count: total, apply: apply)
        case .composed(let events):
            for inner in events { try maybeCompose(inner, count: count, apply: apply) }
        case .randomizedResponse(let k, let epsilon):
            guard neighboringRelation == .replaceOne else {
                throw PrivacyError(.unsupportedEvent,
                                   "randomized response is defined under replace-one adjacency; found \(event.stableJSON) in an add-or-remove-one accountant")
            }
            guard k >= 1, epsilon >= 0 else {
                throw PrivacyError(.invalidArgument, "randomized response needs k ≥ 1 and ε ≥ 0; found k = \(k), ε = \(epsilon)")
            }
            if count == 0 || k == 1 { return }
            apply(epsilon == .infinity ? .nonPrivate : .grouped(.randomizedResponse(k: k, epsilon: epsilon), count: count))
        case .unsupported(let reason):
            throw PrivacyError(.unsupportedEvent, "PLD accountant cannot price \(event.stableJSON) (\(reason))")
        }
    }

    private static func validate(sigma: Double, in event: DpEvent) throws {
        guard sigma >= 0 else {
            throw PrivacyError(.invalidArgument, "noise multiplier must be ≥ 0; found \(sigma) in \(event.stableJSON)")
        }
    }
}
