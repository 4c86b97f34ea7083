// SPDX-License-Identifier: Apache-2.0
import Foundation

/// One account as the privacy officer sees it.
public struct AccountSummary: Sendable, Hashable, Codable {
    public let name: String
    public let epsilonCap: Double
    public let deltaCap: Double
    /// The RDP orders Λ fixed when the account was created.
    public let orders: [Double]
    /// Σρ(α) over every charge of the account, reserved and committed, at `orders`.
    public let composedCurve: [Double]
    /// ε spent at the account's δ, as the admission filter counts it.
    public let epsilonSpent: Double
    /// `epsilonCap − epsilonSpent`, never below zero.
    public let epsilonRemaining: Double
    public let jobCount: Int
    public let createdAt: Date
    /// When the accounts file stopped listing the account, which then admits no new job;
    /// nil while it is open.
    public let closedAt: Date?
}
