// SPDX-License-Identifier: Apache-2.0
import Foundation

/// Whether a ledger charge is held for a running job or final.
public enum ChargeState: String, Sendable, Hashable, Codable, CaseIterable {
    case reserved, committed
}

/// One ledger charge, as `dptunectl ledger` shows it.
public struct ChargeSummary: Sendable, Hashable, Codable {
    public var chargeID: String
    public var jobID: String
    public var account: String
    /// The sub-task charged separately under per-task accounting.
    public var task: String?
    public var strategy: String
    /// A one-line description of the mechanism (its DpEvent).
    public var mechanism: String
    public var epsilon: Double
    public var state: ChargeState
    /// Why the charge was made or kept (e.g. "job failed after step 12: charge kept").
    public var reason: String?
    public var time: Date

    public init(
        chargeID: String, jobID: String, account: String, task: String? = nil, strategy: String,
        mechanism: String, epsilon: Double, state: ChargeState, reason: String? = nil, time: Date
    ) {
        self.chargeID = chargeID
        self.jobID = jobID
        self.account = account
        self.task = task
        self.strategy = strategy
        self.mechanism = mechanism
        self.epsilon = epsilon
        self.state = state
        self.reason = reason
        self.time = time
    }

    enum CodingKeys: String, CodingKey {
        case account, task, strategy, mechanism, epsilon, state, reason, time
        case chargeID = "charge_id"
        case jobID = "job_id"
    }
}
