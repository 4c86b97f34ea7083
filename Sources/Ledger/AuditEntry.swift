// SPDX-License-Identifier: Apache-2.0
import Foundation
import Privacy

/// One row of the append-only audit log.
///
/// `detail` is JSON holding everything needed to recompute the ledger's state from the
/// log alone (caps and orders for account changes, the event and its curve for
/// reservations, the reason for commits and refusals).
public struct AuditEntry: Sendable, Hashable, Codable {
    public let id: Int64
    public let at: Date
    /// `account.create`, `account.update`, `job.admit`, `charge.reserve`, `job.resume`,
    /// `charge.commit`, `job.succeed`, `job.fail`, `job.cancel` or `admission.refuse`.
    public let operation: String
    public let account: String?
    public let jobID: String?
    public let chargeID: Int64?
    public let detail: String
}

/// The JSON `detail` of an audit row; absent fields are left out.
struct AuditDetail: Encodable {
    var epsilonCap: Double?
    var deltaCap: Double?
    var orders: [Double]?
    var previousEpsilonCap: Double?
    var previousDeltaCap: Double?
    var strategy: String?
    var datasetSHA256: String?
    var spoolName: String?
    var recordCount: Int?
    var task: String?
    var event: DpEvent?
    var curve: [Double]?
    var reason: String?
    var epsilonSpent: Double?
    var epsilonRequested: Double?

    enum CodingKeys: String, CodingKey {
        case epsilonCap = "epsilon_cap", deltaCap = "delta_cap", orders
        case previousEpsilonCap = "previous_epsilon_cap", previousDeltaCap = "previous_delta_cap"
        case strategy, datasetSHA256 = "dataset_sha256", spoolName = "spool_name"
        case recordCount = "record_count", task, event, curve, reason
        case epsilonSpent = "epsilon_spent", epsilonRequested = "epsilon_requested"
    }
}
