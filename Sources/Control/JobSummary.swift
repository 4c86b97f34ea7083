// SPDX-License-Identifier: Apache-2.0
import Foundation

/// Where a job is in its life.
public enum JobState: String, Sendable, Hashable, Codable, CaseIterable {
    case queued, running, succeeded, failed, cancelled

    /// Whether the job can no longer change (a watch on it ends).
    public var isFinal: Bool {
        switch self {
        case .queued, .running: false
        case .succeeded, .failed, .cancelled: true
        }
    }
}

/// One line of `dptunectl jobs`.
public struct JobSummary: Sendable, Hashable, Codable {
    public var id: String
    public var account: String
    /// The spool name of the dataset (`NAME` of `NAME.jsonl`).
    public var dataset: String
    public var strategy: String
    public var strategyVersion: String
    public var state: JobState
    /// Fraction of the planned steps done, in [0, 1].
    public var progress: Double
    public var epsilonSpent: Double
    public var epsilonTarget: Double
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    /// Why the job failed or was cancelled.
    public var reason: String?
    /// The published adapter directory, once the job succeeded.
    public var adapterPath: String?
    /// Where the job's result is in the spool once it ended, `done/NAME.result.json` (the
    /// name may carry a suffix the dataset's name does not).
    public var resultFile: String?

    public init(
        id: String, account: String, dataset: String, strategy: String, strategyVersion: String,
        state: JobState, progress: Double, epsilonSpent: Double, epsilonTarget: Double,
        createdAt: Date, startedAt: Date? = nil, finishedAt: Date? = nil,
        reason: String? = nil, adapterPath: String? = nil, resultFile: String? = nil
    ) {
        self.id = id
        self.account = account
        self.dataset = dataset
        self.strategy = strategy
        self.strategyVersion = strategyVersion
        self.state = state
        self.progress = progress
        self.epsilonSpent = epsilonSpent
        self.epsilonTarget = epsilonTarget
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.reason = reason
        self.adapterPath = adapterPath
        self.resultFile = resultFile
    }

    enum CodingKeys: String, CodingKey {
        case id, account, dataset, strategy, state, progress, reason
        case strategyVersion = "strategy_version"
        case epsilonSpent = "epsilon_spent"
        case epsilonTarget = "epsilon_target"
        case createdAt = "created_at"
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case adapterPath = "adapter_path"
        case resultFile = "result_file"
    }
}
