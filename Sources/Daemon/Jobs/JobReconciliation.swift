// SPDX-License-Identifier: Apache-2.0
import Control
import Ledger
import Logging
import Spool

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
///   takes that state.
/// - A dataset left in `accepted/` without a queued or running job moves to `done/` with a
///   result saying why.
enum JobReconciliation {
    /// - Returns: the ids of the jobs it changed.
    static func reconcile(
        ledger: LedgerStore, jobs: JobStore, spool: SpoolDirectory, logger: Logger
    ) async throws -> [String] {
        var changed: [String] = []
        var resumed: [String] = []
        for orphan in try ledger.unfinishedJobs() where await jobs.job(id: orphan.id) == nil {
            try ledger.fail(job: orphan.id, reason: "the daemon stopped before the job was recorded; the charge is kept")
            changed.append(orphan.id)
        }
        for job in await jobs.all() where !job.state.isFinal {
            let record = try ledger.job(id: job.id)
            switch record.state {
            case .admitted where job.state == .running:
                try await jobs.requeue(id: job.id)
                resumed.append(job.id)
            case .admitted:
                continue
            case .succeeded:
                try await jobs.finish(id: job.id, state: .succeeded, reason: record.reason)
            case .failed:
                try await jobs.finish(id: job.id, state: .failed, reason: record.reason)
            case .cancelled:
                try await jobs.finish(id: job.id, state: .cancelled, reason: record.reason)
            }
            changed.append(job.id)
        }
        for id in changed where !resumed.contains(id) {
            logger.notice("job reconciled with the ledger at start-up", metadata: ["dptune.job": "\(id)"])
        }
        for id in resumed {
            logger.notice("job resumed after restart: queued again under its existing charge", metadata: ["dptune.job": "\(id)"])
        }
        let all = await jobs.all()
        let live = Set(all.filter { !$0.state.isFinal }.map(\.dataset))
        let ended = Dictionary(all.filter(\.state.isFinal).map { ($0.dataset, $0) }) { _, newer in newer }
        for name in try spool.scan(.accepted) where name.hasSuffix(SpoolName.datasetSuffix) && !live.contains(name) {
            if let job = ended[name] {
                try spool.finish(name, result: JobResult(job))
            } else {
                try spool.finish(name, result: JobResult(orphanReason: "the daemon stopped before the job was recorded; any admitted charge is kept"))
            }
            logger.notice("dataset settled at start-up", metadata: ["dptune.dataset": "\(name)"])
        }
        return changed
    }
}
