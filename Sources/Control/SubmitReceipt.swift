// SPDX-License-Identifier: Apache-2.0

/// The answer to `submit.end`: the dataset was placed in the spool's `incoming/`.
///
/// Validation and admission happen asynchronously in the spool, as for any dropped file, so
/// the receipt names the spool entry to follow; `jobID` is set only if the daemon already
/// admitted it.
public struct SubmitReceipt: Sendable, Hashable, Codable {
    /// The `NAME` under which the dataset is queued (`incoming/NAME.jsonl`).
    public var dataset: String
    public var jobID: String?

    public init(dataset: String, jobID: String? = nil) {
        self.dataset = dataset
        self.jobID = jobID
    }

    enum CodingKeys: String, CodingKey {
        case dataset
        case jobID = "job_id"
    }
}
