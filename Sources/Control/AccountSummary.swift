// SPDX-License-Identifier: Apache-2.0
import Foundation

/// One privacy budget, as `dptunectl accounts` shows it.
public struct AccountSummary: Sendable, Hashable, Codable {
    public var name: String
    public var epsilonCap: Double
    public var delta: Double
    public var epsilonSpent: Double
    public var epsilonRemaining: Double
    /// Jobs ever charged to this account.
    public var jobCount: Int
    /// When the accounts file stopped listing the account, which then admits no new job;
    /// nil (and absent from the JSON) while it is open.
    public var closedAt: Date?

    public init(
        name: String, epsilonCap: Double, delta: Double, epsilonSpent: Double,
        epsilonRemaining: Double, jobCount: Int, closedAt: Date? = nil
    ) {
        self.name = name
        self.epsilonCap = epsilonCap
        self.delta = delta
        self.epsilonSpent = epsilonSpent
        self.epsilonRemaining = epsilonRemaining
        self.jobCount = jobCount
        self.closedAt = closedAt
    }

    enum CodingKeys: String, CodingKey {
        case name, delta
        case epsilonCap = "epsilon_cap"
        case epsilonSpent = "epsilon_spent"
        case epsilonRemaining = "epsilon_remaining"
        case jobCount = "job_count"
        case closedAt = "closed_at"
    }
}
