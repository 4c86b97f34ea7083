// SPDX-License-Identifier: Apache-2.0
import Control
import Foundation
import Ledger
import Logging
import Spool
import Training

/// Brings the job records and the ledger into agreement at start-up, after a crash at any
/// moment (DESIGN §3.1, §7): no job is silently dropped, and no charge is ever removed.
///
/// - A job the ledger admitted but the daemon never recorded (it died in between) is handed
///   to intake to be resumed under its one charge when its dataset is still in `incoming/` or
///   `accepted/`, and marked failed in the ledger otherwise; its charge stays
///   (``OrphanAdmissions``). A foreground run's admission in the same ledger is left to
///   that run (``DaemonJobID``) while it lives, and failed once its run is found to have
///   died without settling it (``ForegroundRunLock``).
/// - A job recorded as running whose ledger state is still `admitted` was interrupted (the
///   daemon was killed or stopped mid-job): it goes back to the head of the queue, and its
///   worker resumes from the job's last checkpoint, or starts over when it has none. The
///   ledger reserved the whole plan at admission, so the job is charged once either way;
///   nothing from the interrupted run was published.
/// - A job whose ledger state is already final (the daemon died between the two writes)
///   takes that state, with the adapter its worker published if it succeeded; its dataset
///   goes to `done/` with its result first, as the scheduler would have done.
/// - A dataset left in `accepted/` without a queued or running job, and not an orphan's,
///   moves to `done/` with a result saying why.
enum JobReconciliation {
    struct Outcome {
        /// The ids of the jobs it changed (requeued, settled, or failed in the ledger).
        var changed: [String]
        /// The admissions without a job record that intake is to resume, by their dataset's
        /// name in `incoming/`.
        var orphans: [String: JobRecord]
    }

    /// - Parameter adapterDirectory: where the worker publishes the adapter of job `id`
    ///   (``DaemonConfig/adapterDirectory(job:)``).
    static func reconcile(
        ledger: LedgerStore, jobs: JobStore, spool: SpoolDirectory, adapterDirectory: (String) -> URL, logger: Logger
    ) async throws -> Outcome {
        var changed: [String] = []
        var resumed: [String] = []
        var orphans: [JobRecord] = []
        let unfinishedAdmissions = try ledger.unfinishedJobs()
        for admitted in unfinishedAdmissions {
            guard DaemonJobID.isIssued(admitted.id) else {
                if try failEndedForegroundRun(admitted, ledger: ledger, logger: logger) { changed.append(admitted.id) }
                continue
            }
            guard await jobs.job(id: admitted.id) == nil else { continue }
            orphans.append(admitted)
        }
        for id in ForegroundRunLock.removeEndedUnadmitted(
            ledger: URL(fileURLWithPath: ledger.path), admitted: Set(unfinishedAdmissions.map(\.id))) {
            logger.notice("removed the lock file a foreground run left", metadata: ["dptune.job": "\(id)"])
        }
        let unfinished = await jobs.all().filter { !$0.state.isFinal }
        // A name in accepted/ is one file, the newest admission's: an older job of the same
        // name moved its dataset out before the name could be taken again.
        let owners = Dictionary(unfinished.map { ($0.dataset, $0.id) }) { _, newer in newer }
        for job in unfinished {
            let record = try ledger.job(id: job.id)
            var ended = job
            switch record.state {
            case .admitted where job.state == .running:
                try await jobs.requeue(id: job.id)
                resumed.append(job.id)
                changed.append(job.id)
                continue
            case .admitted:
                continue
            case .succeeded:
                ended.state = .succeeded
                ended.adapterPath = publishedAdapter(of: job, in: adapterDirectory(job.id), logger: logger)
            case .failed:
                ended.state = .failed
            case .cancelled:
                ended.state = .cancelled
            }
            ended.reason = record.reason
            // The dataset goes to done/ by this job's id, before its record turns final, as
            // the scheduler settles a job.
            let resultFile = owners[job.dataset] == job.id ? try settle(ended, in: spool) : nil
            try await jobs.finish(id: job.id, state: ended.state, reason: ended.reason, adapterPath: ended.adapterPath,
                                  resultFile: resultFile)
            changed.append(job.id)
        }
        for id in changed where !resumed.contains(id) {
            logger.notice("job reconciled with the ledger at start-up", metadata: ["dptune.job": "\(id)"])
        }
        for id in resumed {
            logger.notice("job resumed after restart: queued again under its existing charge", metadata: ["dptune.job": "\(id)"])
        }
        // Every path that ends a job (the scheduler, a cancel, the loop above) moves its
        // dataset out of accepted/ before the job's record turns final. A dataset still there
        // without a queued or running job is therefore an admission that was never recorded,
        // never one of an ended job: an ended job that had the same file name is another
        // admission, and its result (its id, its adapter) is not this dataset's.
        let live = Set(await jobs.all().filter { !$0.state.isFinal }.map(\.dataset))
        let unowned = try spool.scan(.accepted).filter { $0.hasSuffix(SpoolName.datasetSuffix) && !live.contains($0) }
        let located = try OrphanAdmissions.locate(orphans, unowned: unowned, spool: spool, ledger: ledger, logger: logger)
        changed += located.failed
        for name in unowned where !located.returned.contains(name) {
            try spool.finish(name, result: JobResult(orphanReason: "\(OrphanAdmissions.stoppedBeforeRecord); any admitted charge is kept"))
            logger.notice("dataset settled at start-up", metadata: ["dptune.dataset": "\(name)"])
        }
        return Outcome(changed: changed, orphans: located.resumable)
    }

    /// Fails a foreground run's admission if the run died without settling it; whether it did.
    private static func failEndedForegroundRun(_ admitted: JobRecord, ledger: LedgerStore, logger: Logger) throws -> Bool {
        let ledgerFile = URL(fileURLWithPath: ledger.path)
        guard ForegroundRunLock.holder(of: admitted.id, ledger: ledgerFile) == .ended else { return false }
        defer { ForegroundRunLock.removeEnded(admitted.id, ledger: ledgerFile) }
        do {
            try ledger.fail(
                job: admitted.id,
                reason: "its foreground run (dptuned train --ledger) ended without settling it: killed or crashed; the charge stands")
        } catch let error as LedgerError where error.code == .jobAlreadyFinished {
            // The run settled it and died before removing its file.
            return false
        }
        logger.notice("a foreground run's admission failed at start-up: its run ended without settling it",
                      metadata: ["dptune.job": "\(admitted.id)"])
        return true
    }

    /// Moves the dataset of `ended` to `done/` with its result, unless it is there already
    /// (moved before the daemon died, when where it went is not known); returns where the
    /// result is.
    ///
    /// A function of its own: the same typed `catch` inside the async ``reconcile`` crashed
    /// the Swift 6.3.1 compiler (SILGen's ownership verifier).
    private static func settle(_ ended: DaemonJob, in spool: SpoolDirectory) throws(SpoolError) -> String? {
        do throws(SpoolError) {
            return try spool.fileResult(of: ended)
        } catch where error.code == .noSuchEntry {
            return nil
        }
    }

    /// The adapter that a job the ledger says succeeded published, or nil.
    ///
    /// The scheduler learns the path from the worker's report, which is lost when the daemon
    /// dies between the ledger's commit and the job record. The worker publishes into a
    /// directory fixed by the job id, renamed into place whole (``AdapterArtifacts``), so the
    /// directory whose model card names the job is that adapter.
    private static func publishedAdapter(of job: DaemonJob, in directory: URL, logger: Logger) -> String? {
        guard AdapterArtifacts.isPublished(job: job.id, in: directory) else {
            logger.warning("succeeded job has no adapter where its worker publishes it",
                           metadata: ["dptune.job": "\(job.id)", "dptune.adapter": "\(directory.path)"])
            return nil
        }
        return directory.path
    }
}
