// SPDX-License-Identifier: Apache-2.0
import Foundation

/// A job as the ledger knows it: admitted, then finished exactly once.
public struct JobRecord: Sendable, Hashable, Codable {
    public enum State: String, Sendable, Hashable, Codable {
        /// Admitted, its charges reserved; training may be running or interrupted.
        case admitted
        case succeeded
        case failed
        case cancelled
    }

    public let id: String
    public let account: String
    public let strategy: String
    public let datasetSHA256: String
    public let spoolName: String
    public let recordCount: Int
    public let state: State
    public let reason: String?
    public let admittedAt: Date
    public let finishedAt: Date?
}
