// SPDX-License-Identifier: Apache-2.0
import Privacy

/// What a job asks the ledger for before its first step.
public struct AdmissionRequest: Sendable, Hashable {
    /// One charge of a job. A job with one mechanism has one charge with no task; the
    /// `projected` strategy charges each task its own σ_eff, so it has one per task.
    public struct Charge: Sendable, Hashable {
        public var task: String?
        public var event: DpEvent

        public init(task: String? = nil, event: DpEvent) {
            self.task = task
            self.event = event
        }
    }

    /// The dataset the job trains on, as the spool saw it.
    public struct Dataset: Sendable, Hashable {
        /// Lower-case hex SHA-256 of the dataset file's bytes.
        public var sha256: String
        public var spoolName: String
        public var recordCount: Int

        public init(sha256: String, spoolName: String, recordCount: Int) {
            self.sha256 = sha256
            self.spoolName = spoolName
            self.recordCount = recordCount
        }
    }

    public var jobID: String
    public var account: String
    public var dataset: Dataset
    public var strategy: String
    public var charges: [Charge]

    public init(jobID: String, account: String, dataset: Dataset, strategy: String, charges: [Charge]) {
        self.jobID = jobID
        self.account = account
        self.dataset = dataset
        self.strategy = strategy
        self.charges = charges
    }
}

/// What the ledger granted.
public struct Admission: Sendable, Hashable, Codable {
    public let jobID: String
    /// The ids of the reserved charges, in the order of the request's charges.
    public let chargeIDs: [Int64]
    /// ε the account has spent, this job included, at the account's δ.
    public let epsilonSpent: Double
    public let epsilonRemaining: Double
}
