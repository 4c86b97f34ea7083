// SPDX-License-Identifier: Apache-2.0
import Foundation

/// Privacy accounting by Rényi differential privacy (Mironov 2017).
///
/// Holds the RDP curve of everything composed so far at a fixed set of orders; composing adds
/// curves, and ε(δ) is the best conversion over the orders. The math lives in
/// ``rdpCurve(of:orders:neighboringRelation:)`` and ``epsilonFromRDP(orders:rdp:delta:)``.
/// It prices the Gaussian mechanism, its Poisson-subsampled form, k-ary randomized response,
/// `noOp` and `nonPrivate`, and any composition of them.
public struct RDPAccountant: PrivacyAccountant {
    /// dp_accounting's default orders: 1.1 … 10.9 in steps of 0.1, 11 … 63, and 128 … 1024.
    public static let defaultOrders: [Double] = {
        let fractional: [Double] = (1..<100).map { 1 + Double($0) / 10 }
        let integral: [Double] = (11..<64).map { Double($0) }
        let large: [Double] = [128, 256, 512, 1024]
        return fractional + integral + large
    }()

    /// The largest Rényi order priced.
    ///
    /// The integer-order RDP of the subsampled Gaussian sums one term per integer up to α, so
    /// its cost grows with α, and past 2^53 (where α + 1 == α) the sum never ends. 10 000 is
    /// ten times the largest order dp_accounting uses by default (1024; Opacus stops at 63)
    /// and keeps one order's sum near a millisecond. Larger orders would only help below
    /// ε ≈ 0.005: for an RDP curve cα the best order is √(log(1/δ)/c), which reaches 10 000
    /// at δ = 1e-10 only where ε ≈ 2√(c·log(1/δ)) ≈ 0.0046.
    public static let maximumOrder = 10_000.0

    /// Whether `order` can be tracked: finite, greater than 1 and at most ``maximumOrder``.
    public static func isValidOrder(_ order: Double) -> Bool {
        order > 1 && order <= maximumOrder
    }

    static func invalidOrderMessage(_ order: Double) -> String {
        "Rényi orders must be greater than 1 and at most \(Int(maximumOrder)); found \(order)"
    }

    public let orders: [Double]
    public let neighboringRelation: NeighboringRelation
    /// The RDP of everything composed so far, aligned with ``orders``.
    public private(set) var rdp: [Double]
    /// Everything composed, in order; ``ledger`` is their composition.
    private(set) var events: [DpEvent] = []
    /// The curve of the event composed last: a training loop composes the same step again and
    /// again, and pricing it once keeps each step O(orders).
    private var lastPriced: (event: DpEvent, curve: [Double])?

    /// - Parameters:
    ///   - orders: the Rényi orders to track, each in (1, ``maximumOrder``]; orders read from
    ///     input are checked with ``isValidOrder(_:)`` first.
    ///   - neighboringRelation: the adjacency the guarantee is stated for.
    public init(orders: [Double] = RDPAccountant.defaultOrders, neighboringRelation: NeighboringRelation = .addOrRemoveOne) {
        precondition(!orders.isEmpty, "an RDP accountant needs at least one order")
        if let bad = orders.first(where: { !Self.isValidOrder($0) }) {
            preconditionFailure(Self.invalidOrderMessage(bad))
        }
        self.orders = orders
        self.neighboringRelation = neighboringRelation
        self.rdp = [Double](repeating: 0, count: orders.count)
    }

    /// Restores saved state whose `rdp` was computed from `events` at `orders`.
    init(orders: [Double], neighboringRelation: NeighboringRelation, events: [DpEvent], rdp: [Double]) {
        precondition(orders.count == rdp.count, "orders and rdp differ in length")
        self.orders = orders
        self.neighboringRelation = neighboringRelation
        self.events = events
        self.rdp = rdp
    }

    public var ledger: DpEvent { .composed(events) }

    public func supports(_ event: DpEvent) -> Bool {
        (try? maybeComposeRDP(event, count: 1, neighboringRelation: neighboringRelation) { _, _ in }) != nil
    }

    public mutating func compose(_ event: DpEvent, count: Int) throws {
        guard count >= 0 else {
            throw PrivacyError(.invalidArgument, "composition count must be non-negative; found \(count)")
        }
        let curve: [Double]
        if let lastPriced, lastPriced.event == event {
            curve = lastPriced.curve
        } else {
            curve = try rdpCurve(of: event, orders: orders, neighboringRelation: neighboringRelation)
            lastPriced = (event, curve)
        }
        if count == 0 { return }
        let repetitions = Double(count)
        for index in rdp.indices {
            rdp[index] += repetitions * curve[index]
        }
        events.append(event.repeated(count))
    }

    public func epsilon(delta: Double) throws -> Double {
        try epsilonAndOrder(delta: delta).epsilon
    }

    /// The smallest certified ε at `delta` and the Rényi order that certifies it.
    ///
    /// - Throws: ``PrivacyError`` `.invalidArgument` if `delta` is not in [0, 1].
    public func epsilonAndOrder(delta: Double) throws -> (epsilon: Double, order: Double) {
        guard delta >= 0 && delta <= 1 else {
            throw PrivacyError(.invalidArgument, "delta must be in [0, 1]; found \(delta)")
        }
        return epsilonFromRDP(orders: orders, rdp: rdp, delta: delta)
    }

    public func delta(epsilon: Double) throws -> Double {
        guard epsilon >= 0 else {
            throw PrivacyError(.invalidArgument, "epsilon must be non-negative; found \(epsilon)")
        }
        return deltaFromRDP(orders: orders, rdp: rdp, epsilon: epsilon).delta
    }
}
