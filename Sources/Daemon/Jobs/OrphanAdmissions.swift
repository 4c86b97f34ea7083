// SPDX-License-Identifier: Apache-2.0
import Foundation
import Ledger
import Logging
import Spool

/// The ledger's admissions whose job the daemon never recorded, each found with its dataset
/// at start-up so that intake resumes it instead of charging the dataset again.
///
/// Intake admits a job in the ledger (its charge committed), then moves the dataset from
/// `incoming/` to `accepted/`, then writes the job's record. A daemon that died in between
/// left an admitted job with no record, its dataset in `incoming/` or in `accepted/`. Such
/// an orphan is handed to intake under the name of its dataset in `incoming/` (a dataset in
/// `accepted/` is moved back there first, since `accepted/` means a queued or running job):
/// intake validates it again and the ledger resumes the admission if nothing changed
/// (``LedgerStore/resume(_:)``). An orphan whose dataset is nowhere is failed here; its
/// charge stays, as every charge does.
struct OrphanAdmissions {
    /// The orphans intake is to resume, by their dataset's name in `incoming/`.
    var resumable: [String: JobRecord] = [:]
    /// The ids of the orphans failed here.
    var failed: [String] = []
    /// The datasets moved from `accepted/` back to `incoming/`, by their name in `accepted/`.
    var returned: Set<String> = []

    static let stoppedBeforeRecord = "the daemon stopped before the job was recorded"

    /// - Parameters:
    ///   - orphans: the admitted jobs without a record, oldest first.
    ///   - unowned: the datasets in `accepted/` that no queued or running job owns.
    static func locate(
        _ orphans: [JobRecord], unowned: [String], spool: SpoolDirectory, ledger: LedgerStore, logger: Logger
    ) throws -> OrphanAdmissions {
        var located = OrphanAdmissions()
        var unowned = unowned
        var claimed = Set<String>()
        // Newest first: of two admissions of one dataset name, the dataset there now is the
        // newer one's (the older one's was replaced in between).
        for orphan in orphans.reversed() {
            let name = datasetName(orphan.spoolName)
            guard claimed.insert(name).inserted else {
                try located.fail(
                    orphan, reason: "\(stoppedBeforeRecord), and a later admission of a dataset named \(name) supersedes it; the charge is kept",
                    ledger: ledger, logger: logger)
                continue
            }
            // accepted/ first: a dataset there was validated for an admission; one in
            // incoming/ under the same name may have been dropped since.
            if let accepted = acceptedDataset(of: orphan, named: name, among: unowned, spool: spool) {
                let incoming = try spool.returnToIncoming(accepted)
                unowned.removeAll { $0 == accepted }
                located.returned.insert(accepted)
                located.resume(orphan, as: incoming, logger: logger)
            } else if (try? spool.entry(named: name)) != nil {
                located.resume(orphan, as: name, logger: logger)
            } else {
                try located.fail(
                    orphan, reason: "\(stoppedBeforeRecord), and its dataset is in neither incoming/ nor accepted/; the charge is kept",
                    ledger: ledger, logger: logger)
            }
        }
        return located
    }

    /// The dataset name a spool name stands for: intake may be told of a dataset's manifest
    /// first, and ledgers written before intake recorded the dataset's name hold the name it
    /// was told of.
    static func datasetName(_ spoolName: String) -> String {
        (try? SpoolName(spoolName))?.datasetName ?? spoolName
    }

    /// The dataset in `accepted/` with the orphan's bytes, under its name or that name with a
    /// collision suffix (`accept` suffixes a name a queued job holds), the exact name first.
    private static func acceptedDataset(
        of orphan: JobRecord, named name: String, among unowned: [String], spool: SpoolDirectory
    ) -> String? {
        let stem = String(name.dropLast(SpoolName.datasetSuffix.count))
        func isSuffixed(_ candidate: String) -> Bool {
            guard candidate.hasPrefix(stem + "-"), candidate.hasSuffix(SpoolName.datasetSuffix) else { return false }
            let suffix = candidate.dropFirst(stem.count + 1).dropLast(SpoolName.datasetSuffix.count)
            return !suffix.isEmpty && suffix.allSatisfy(\.isASCII) && suffix.allSatisfy(\.isNumber)
        }
        let candidates = unowned.filter { $0 == name } + unowned.filter(isSuffixed)
        // A file that cannot be read is not the orphan's: it goes to done/ with the others.
        return candidates.first { (try? spool.sha256(of: $0, in: .accepted)) == orphan.datasetSHA256 }
    }

    private mutating func resume(_ orphan: JobRecord, as name: String, logger: Logger) {
        resumable[name] = orphan
        logger.notice("admission without a job record: its dataset goes through intake again to resume it", metadata: [
            "dptune.job": "\(orphan.id)", "dptune.dataset": "\(name)",
        ])
    }

    private mutating func fail(_ orphan: JobRecord, reason: String, ledger: LedgerStore, logger: Logger) throws {
        try Self.fail(orphan, reason: reason, ledger: ledger, logger: logger)
        failed.append(orphan.id)
    }

    /// Marks `orphan` failed in the ledger, its charge kept, and says so in the log: here
    /// when its dataset is nowhere, in intake when the dataset did not resume it.
    static func fail(_ orphan: JobRecord, reason: String, ledger: LedgerStore, logger: Logger) throws {
        try ledger.fail(job: orphan.id, reason: reason)
        logger.notice("admission without a job record failed", metadata: [
            "dptune.job": "\(orphan.id)", "dptune.reason": "\(reason)",
        ])
    }
}
