// SPDX-License-Identifier: Apache-2.0
import Foundation

/// The RDP curve of `event` at `orders`: the sum, over the mechanisms it contains, of each
/// mechanism's RDP times the number of times it runs (RDP composes additively; Mironov 2017,
/// Prop. 1).
///
/// Identical mechanisms are priced once, however many times the tree repeats them, so a
/// `.composed` of ten thousand equal steps costs one curve.
///
/// - Parameters:
///   - event: the event to price.
///   - orders: Rényi orders, each > 1, in any order.
///   - neighboringRelation: the adjacency the guarantee is stated for.
/// - Returns: the RDP at each order; +∞ where the event is non-private or an order is
///   excluded (a fractional-order series that does not converge).
/// - Throws: ``PrivacyError`` `.unsupportedEvent` naming the first sub-event that cannot be
///   priced, or `.invalidArgument` for an order outside (1, ``RDPAccountant/maximumOrder``]
///   or a parameter outside its domain.
public func rdpCurve(of event: DpEvent, orders: [Double], neighboringRelation: NeighboringRelation) throws -> [Double] {
    if let bad = orders.first(where: { !RDPAccountant.isValidOrder($0) }) {
        throw PrivacyError(.invalidArgument, RDPAccountant.invalidOrderMessage(bad))
    }
    var mechanisms: [RDPMechanism] = []
    var counts: [RDPMechanism: Int] = [:]
    var overflowed = false
    try maybeComposeRDP(event, count: 1, neighboringRelation: neighboringRelation) { mechanism, count in
        if counts[mechanism] == nil { mechanisms.append(mechanism) }
        let (sum, overflow) = counts[mechanism, default: 0].addingReportingOverflow(count)
        overflowed = overflowed || overflow
        counts[mechanism] = sum
    }
    if overflowed {
        throw PrivacyError(.invalidArgument, "the total repetition count of \(event.jsonDescription) overflows Int")
    }
    var curve = [Double](repeating: 0, count: orders.count)
    for mechanism in mechanisms {
        let count = Double(counts[mechanism] ?? 0)
        for (index, value) in mechanism.curve(orders: orders).enumerated() {
            curve[index] += count * value
        }
    }
    return curve
}

/// A mechanism the RDP accountant has a formula for, as found by ``maybeComposeRDP``.
enum RDPMechanism: Hashable, Sendable {
    /// Poisson sampling at `samplingRate` of the Gaussian mechanism; rate 1 is the plain
    /// Gaussian mechanism.
    case subsampledGaussian(samplingRate: Double, noiseMultiplier: Double)
    case randomizedResponse(k: Int, epsilon: Double)
    case nonPrivate

    func curve(orders: [Double]) -> [Double] {
        switch self {
        case .subsampledGaussian(let q, let sigma):
            orders.map { poissonSubsampledGaussianRDP(samplingRate: q, noiseMultiplier: sigma, order: $0) }
        case .randomizedResponse(let k, let epsilon):
            orders.map { randomizedResponseRDP(k: k, epsilon: epsilon, order: $0) }
        case .nonPrivate:
            orders.map { _ in .infinity }
        }
    }
}

/// Walks `event` and calls `apply` with every mechanism it contains and how many times it
/// runs. It is the one traversal behind both pricing and ``RDPAccountant/supports(_:)``,
/// which passes an `apply` that does nothing (a dry run), so the two cannot disagree.
///
/// - Throws: ``PrivacyError`` `.unsupportedEvent` naming the sub-event that has no RDP
///   formula here, or `.invalidArgument` naming a parameter outside its domain.
func maybeComposeRDP(
    _ event: DpEvent, count: Int, neighboringRelation: NeighboringRelation,
    apply: (RDPMechanism, Int) -> Void
) throws {
    switch event {
    case .noOp:
        return
    case .nonPrivate:
        apply(.nonPrivate, count)
    case .gaussian(let sigma):
        try requireNoiseMultiplier(sigma)
        apply(.subsampledGaussian(samplingRate: 1, noiseMultiplier: sigma), count)
    case .poissonSampled(let q, let inner):
        guard q >= 0 && q <= 1 else {
            throw PrivacyError(.invalidArgument, "sampling probability must be in [0, 1]; found \(q)")
        }
        guard neighboringRelation == .addOrRemoveOne else {
            throw PrivacyError(.unsupportedEvent,
                "the RDP accountant prices Poisson sampling only under add-or-remove-one adjacency, not \(neighboringRelation.rawValue): \(event.jsonDescription)")
        }
        let sigma = try effectiveNoiseMultiplier(of: inner)
        apply(.subsampledGaussian(samplingRate: q, noiseMultiplier: sigma), count)
    case .selfComposed(let inner, let innerCount):
        guard innerCount >= 0 else {
            throw PrivacyError(.invalidArgument, "self-composition count must be non-negative; found \(innerCount)")
        }
        let (total, overflow) = count.multipliedReportingOverflow(by: innerCount)
        guard !overflow else {
            throw PrivacyError(.invalidArgument, "repetition count \(count) × \(innerCount) overflows Int")
        }
        try maybeComposeRDP(inner, count: total, neighboringRelation: neighboringRelation, apply: apply)
    case .composed(let events):
        for inner in events {
            try maybeComposeRDP(inner, count: count, neighboringRelation: neighboringRelation, apply: apply)
        }
    case .randomizedResponse(let k, let epsilon):
        // The event fixes its own adjacency (one value replaced; see its doc), so its curve
        // does not depend on the accountant's relation.
        guard k >= 1 else {
            throw PrivacyError(.invalidArgument, "randomized response needs k ≥ 1 values; found \(k)")
        }
        guard epsilon >= 0 else {
            throw PrivacyError(.invalidArgument, "randomized response epsilon must be non-negative; found \(epsilon)")
        }
        apply(.randomizedResponse(k: k, epsilon: epsilon), count)
    case .unsupported:
        throw PrivacyError(.unsupportedEvent, "the RDP accountant cannot price \(event.jsonDescription)")
    }
}

/// The one Gaussian that a Poisson-sampled batch of Gaussian releases amounts to.
///
/// Releases that all see the same sample compose into a single Gaussian mechanism with
/// σ_eff = (Σᵢ σᵢ⁻²)^(−1/2) (its privacy loss is that of the stacked vector query), so
/// sampling wraps that one mechanism. Anything else inside the sampling is not priced.
///
/// - Throws: ``PrivacyError`` `.unsupportedEvent` naming the offending sub-event.
func effectiveNoiseMultiplier(of event: DpEvent) throws -> Double {
    let inverseSquare = try sumOfInverseSquaredNoise(event)
    return inverseSquare == 0 ? .infinity : 1 / inverseSquare.squareRoot()
}

private func sumOfInverseSquaredNoise(_ event: DpEvent) throws -> Double {
    switch event {
    case .noOp:
        return 0
    case .gaussian(let sigma):
        try requireNoiseMultiplier(sigma)
        return 1 / (sigma * sigma)
    case .selfComposed(let inner, let count):
        guard count >= 0 else {
            throw PrivacyError(.invalidArgument, "self-composition count must be non-negative; found \(count)")
        }
        return Double(count) * (try sumOfInverseSquaredNoise(inner))
    case .composed(let events):
        return try events.reduce(0) { $0 + (try sumOfInverseSquaredNoise($1)) }
    case .nonPrivate, .unsupported, .poissonSampled, .randomizedResponse:
        throw PrivacyError(.unsupportedEvent,
            "the RDP accountant prices only Gaussian releases inside Poisson sampling; cannot price \(event.jsonDescription) there")
    }
}

private func requireNoiseMultiplier(_ sigma: Double) throws {
    guard sigma >= 0 else {
        throw PrivacyError(.invalidArgument, "noise multiplier must be non-negative; found \(sigma)")
    }
}

extension DpEvent {
    /// The event's stable JSON form, for naming it in error messages.
    var jsonDescription: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        guard let data = try? encoder.encode(self) else { return "\(self)" }
        return String(decoding: data, as: UTF8.self)
    }
}
