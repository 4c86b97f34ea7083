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
/// - A job the ledger admitted but the daemon never recorded (it died in between) is marked
///   failed in the ledger; its charge stays.
/// - A job recorded as running whose ledger state is still `admitted` was interrupted (the
///   daemon was killed or stopped mid-job): it goes back to the head of the queue, and its
///   worker resumes from the job's last checkpoint, or starts over when it has none. The
///   ledger reserved the whole plan at admission, so the job is charged once either way;
///   nothing from the interrupted run was published.
/// - A job whose ledger state is already final (the daemon died between the two writes)
///   takes that state, with the adapter its worker published if it succeeded; its dataset
///   goes to `done/` with its result first, as the scheduler would have done.
/// - A dataset left in `accepted/` without a queued or running job moves to `done/` with a
///   result saying why.
enum JobReconciliation {
    /// - Parameter adapterDirectory: where the worker publishes the adapter of job `id`
    ///   (``DaemonConfig/adapterDirectory(job:)``).
    /// - Returns: the ids of the jobs it changed.
    static func reconcile(
        ledger: LedgerStore, jobs: JobStore, spool: SpoolDirectory, adapterDirectory: (String) -> URL, logger: Logger
    ) async throws -> [String] {
        var changed: [String] = []
        var resumed: [String] = []
        for orphan in try ledger.unfinishedJobs() where await jobs.job(id: orphan.id) == nil {
            try ledger.fail(job: orphan.id, reason: "the daemon stopped before the job was recorded; the charge is kept")
            changed.append(orphan.id)
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
            if owners[job.dataset] == job.id { try settle(ended, in: spool) }
            try await jobs.finish(id: job.id, state: ended.state, reason: ended.reason, adapterPath: ended.adapterPath)
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
        for name in try spool.scan(.accepted) where name.hasSuffix(SpoolName.datasetSuffix) && !live.contains(name) {
            try spool.finish(name, result: JobResult(orphanReason: "the daemon stopped before the job was recorded; any admitted charge is kept"))
            logger.notice("dataset settled at start-up", metadata: ["dptune.dataset": "\(name)"])
        }
        return changed
    }

    /// Moves the dataset of `ended` to `done/` with its result, unless it is there already
    /// (moved before the daemon died).
    ///
    /// A function of its own: the same typed `catch` inside the async ``reconcile`` crashed
    /// the Swift 6.3.1 compiler (SILGen's ownership verifier).
    private static func settle(_ ended: DaemonJob, in spool: SpoolDirectory) throws(SpoolError) {
        do throws(SpoolError) {
            try spool.finish(ended.dataset, result: JobResult(ended))
        } catch where error.code == .noSuchEntry {
            return
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
