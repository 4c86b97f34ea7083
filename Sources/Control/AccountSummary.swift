// SPDX-License-Identifier: Apache-2.0

/// One privacy budget, as `dptunectl accounts` shows it.
public struct AccountSummary: Sendable, Hashable, Codable {
    public var name: String
    public var epsilonCap: Double
    public var delta: Double
    public var epsilonSpent: Double
    public var epsilonRemaining: Double
    /// Jobs ever charged to this account.
    public var jobCount: Int

    public init(
        name: String, epsilonCap: Double, delta: Double, epsilonSpent: Double,
        epsilonRemaining: Double, jobCount: Int
    ) {
        self.name = name
        self.epsilonCap = epsilonCap
        self.delta = delta
        self.epsilonSpent = epsilonSpent
        self.epsilonRemaining = epsilonRemaining
        self.jobCount = jobCount
    }

    enum CodingKeys: String, CodingKey {
        case name, delta
        case epsilonCap = "epsilon_cap"
        case epsilonSpent = "epsilon_spent"
        case epsilonRemaining = "epsilon_remaining"
        case jobCount = "job_count"
    }
}
