// SPDX-License-Identifier: Apache-2.0
import Foundation

/// The smallest ε certified at `delta` by an RDP curve, and the order that attains it.
///
/// Each order gives a bound; the best one is kept. Two bounds are used, as in dp_accounting:
/// - the improved conversion (Balle et al. 2020, "Hypothesis testing interpretations and
///   Rényi differential privacy", Prop. 12; Canonne, Kamath, Steinke 2020, Eq. 20)
///   ε = r + log(1 − 1/α) − log(δα)/(α − 1), used only for α > 1.01 where it is stable;
/// - the KL bound δ ≤ √(1 − e^(−r)) (as α → 1 RDP tends to the KL divergence), which
///   certifies ε = 0 whenever δ² > 1 − e^(−r).
/// A negative curve value can only come from rounding and certifies ε = 0.
///
/// - Parameters:
///   - orders: Rényi orders, each ≥ 1, aligned with `rdp`.
///   - rdp: the RDP at each order; +∞ excludes that order.
///   - delta: the target δ, in [0, 1].
/// - Returns: ε ≥ 0 (+∞ when no order certifies anything) and the optimal order; for δ = 0
///   the order is 0, as no single order is optimal.
public func epsilonFromRDP(orders: [Double], rdp: [Double], delta: Double) -> (epsilon: Double, order: Double) {
    precondition(orders.count == rdp.count, "orders and rdp differ in length: \(orders.count) vs \(rdp.count)")
    precondition(delta >= 0 && delta <= 1, "delta must be in [0, 1]; found \(delta)")
    if delta == 0 {
        return (rdp.allSatisfy { $0 == 0 } ? 0 : .infinity, 0)
    }
    var best = (epsilon: Double.infinity, order: orders.first ?? 0)
    for (alpha, r) in zip(orders, rdp) {
        precondition(alpha >= 1, "Rényi orders must be at least 1; found \(alpha)")
        let epsilon: Double
        if r < 0 || delta * delta + expm1(-r) > 0 {
            epsilon = 0
        } else if alpha > 1.01 {
            epsilon = r + log1p(-1 / alpha) - log(delta * alpha) / (alpha - 1)
        } else {
            epsilon = .infinity
        }
        if epsilon < best.epsilon { best = (epsilon, alpha) }
    }
    return (max(0, best.epsilon), best.order)
}

/// The smallest δ certified at `epsilon` by an RDP curve, and the order that attains it.
///
/// The inverse of ``epsilonFromRDP(orders:rdp:delta:)`` with the same two bounds:
/// log δ = (α − 1)(r − ε + log(1 − 1/α)) − log α for α > 1.01 (Balle et al. 2020,
/// Prop. 12), and δ = √(1 − e^(−r)) (KL), whichever is smaller; capped at 1.
///
/// - Parameters:
///   - orders: Rényi orders, each ≥ 1, aligned with `rdp`.
///   - rdp: the RDP at each order; +∞ excludes that order.
///   - epsilon: the target ε ≥ 0.
/// - Returns: δ in [0, 1] and the optimal order.
public func deltaFromRDP(orders: [Double], rdp: [Double], epsilon: Double) -> (delta: Double, order: Double) {
    precondition(orders.count == rdp.count, "orders and rdp differ in length: \(orders.count) vs \(rdp.count)")
    precondition(epsilon >= 0, "epsilon must be non-negative; found \(epsilon)")
    var best = (logDelta: Double.infinity, order: orders.first ?? 0)
    for (alpha, r) in zip(orders, rdp) {
        precondition(alpha >= 1, "Rényi orders must be at least 1; found \(alpha)")
        var logDelta: Double
        if r <= 0 {
            logDelta = -.infinity
        } else {
            logDelta = 0.5 * log1p(-exp(-r))
            if alpha > 1.01 {
                logDelta = min(logDelta, (alpha - 1) * (r - epsilon + log1p(-1 / alpha)) - log(alpha))
            }
        }
        if logDelta < best.logDelta { best = (logDelta, alpha) }
    }
    return (min(exp(best.logDelta), 1), best.order)
}
