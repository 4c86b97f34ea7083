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
    ///   - orders: the Rényi orders to track, each > 1.
    ///   - neighboringRelation: the adjacency the guarantee is stated for.
    public init(orders: [Double] = RDPAccountant.defaultOrders, neighboringRelation: NeighboringRelation = .addOrRemoveOne) {
        precondition(!orders.isEmpty, "an RDP accountant needs at least one order")
        precondition(orders.allSatisfy { $0 > 1 }, "Rényi orders must be greater than 1; found \(orders.filter { !($0 > 1) })")
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
