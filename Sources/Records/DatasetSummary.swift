// SPDX-License-Identifier: Apache-2.0

/// What validation learned about a dataset, for the ledger and the job.
///
/// Only sizes and the hash: the dataset size N is treated as public (DESIGN §4.3 item 7).
public struct DatasetSummary: Sendable, Hashable {
    /// The key in ``taskCounts`` for records without a `task` (objective `generate` only).
    public static let untaskedKey = ""

    /// Lower-case hex SHA-256 of the file's bytes.
    public var sha256: String
    public var byteCount: Int
    public var recordCount: Int
    /// Distinct `unit` values among the records (0 when no record names one).
    public var unitCount: Int
    /// Records per task.
    public var taskCounts: [String: Int]
    /// N for sampling and for the δ < 1/N rule: records, or units under per-unit privacy.
    public var privacyUnitCount: Int

    public init(
        sha256: String, byteCount: Int, recordCount: Int, unitCount: Int,
        taskCounts: [String: Int], privacyUnitCount: Int
    ) {
        self.sha256 = sha256
        self.byteCount = byteCount
        self.recordCount = recordCount
        self.unitCount = unitCount
        self.taskCounts = taskCounts
        self.privacyUnitCount = privacyUnitCount
    }

    /// `delta_too_large` unless `delta` is below 1/N for this dataset's N (DESIGN §4.3 item 7),
    /// with `subject` naming the δ in the message and `why` said after it; nil when it is.
    public func deltaRefusal(_ delta: Double, subject: String, unit: Manifest.PrivacyUnit, why: String = "") -> IntakeError? {
        let n = privacyUnitCount
        guard delta * Double(n) >= 1 else { return nil }
        return IntakeError(.deltaTooLarge, "\(subject) must be below 1/N = \(1 / Double(n)) for N = \(n) \(unit.plural)\(why)")
    }
}
