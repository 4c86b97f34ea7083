// SPDX-License-Identifier: Apache-2.0
import Foundation

/// The admission rule of the ledger: an RDP privacy filter over a fixed set of orders.
///
/// For one fixed order α, admitting jobs only while Σρᵢ(α) stays within a budget is a
/// valid filter even when each job is chosen after seeing the previous ones (Feldman and
/// Zrnic 2021, Theorem 3.1). Over the K orders Λ of an account we use a union bound: each
/// order gets δ/K, and the RDP-to-(ε, δ) conversion of Canonne, Kamath and Steinke (2020,
/// Proposition 12; the bound dp_accounting uses) turns Σρ(α) into
///
///     ε(α) = Σρ(α) + log1p(−1/α) − log((δ/K)·α)/(α − 1)
///
/// A job is admitted iff min over α ∈ Λ of ε(α) ≤ the account's ε cap; the failure
/// probabilities of the K orders add up to δ. Composing PLDs and stopping at the target
/// would *not* be valid under adaptive choice, which is why admission never does that.
public enum PrivacyFilter {
    /// The K = 16 orders an account gets when `accounts.toml` names none: dense where
    /// large-noise, many-step jobs find their optimum (α ≈ 2–16), sparse up to 256 for
    /// small-ε budgets.
    public static let defaultOrders: [Double] = [
        1.5, 1.75, 2, 2.5, 3, 4, 5, 6, 8, 12, 16, 24, 32, 64, 128, 256,
    ]

    /// The ε that the filter certifies at `delta` for an account whose charges sum to `curve`.
    ///
    /// A curve that is zero at every order (nothing released) costs ε = 0 exactly: the
    /// conversion terms alone are positive, but with no release there is no loss to bound.
    ///
    /// - Parameters:
    ///   - curve: Σρ(α) at each of `orders`.
    ///   - orders: the account's orders Λ (K = `orders.count`), each > 1.
    ///   - delta: the total δ, split evenly over the orders.
    /// - Returns: min over α of ε(α); +∞ if the curve is infinite everywhere.
    public static func epsilon(curve: [Double], orders: [Double], delta: Double) -> Double {
        precondition(curve.count == orders.count, "curve has \(curve.count) values for \(orders.count) orders")
        if curve.allSatisfy({ $0 == 0 }) { return 0 }
        let perOrderDelta = delta / Double(orders.count)
        var best = Double.infinity
        for (rho, alpha) in zip(curve, orders) {
            let epsilon = rho + log1p(-1 / alpha) - log(perOrderDelta * alpha) / (alpha - 1)
            best = min(best, epsilon)
        }
        return best
    }
}
