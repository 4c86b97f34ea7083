// SPDX-License-Identifier: Apache-2.0
import Control
import Ledger
import Logging

/// Brings the job records and the ledger into agreement at start-up, after a crash at any
/// moment (DESIGN §3.1, §7): no job is silently dropped, and no charge is ever removed.
///
/// - A job the ledger admitted but the daemon never recorded (it died in between) is marked
///   failed in the ledger; its charge stays.
/// - A job recorded as running was interrupted; until workers can resume from a checkpoint
///   it is failed (charged).
/// - A job whose ledger state is already final (the daemon died between the two writes)
///   takes that state.
enum JobReconciliation {
    /// - Returns: the ids of the jobs it changed.
    static func reconcile(ledger: LedgerStore, jobs: JobStore, logger: Logger) async throws -> [String] {
        var changed: [String] = []
        for orphan in try ledger.unfinishedJobs() where await jobs.job(id: orphan.id) == nil {
            try ledger.fail(job: orphan.id, reason: "the daemon stopped before the job was recorded; the charge is kept")
            changed.append(orphan.id)
        }
        for job in await jobs.all() where !job.state.isFinal {
            let record = try ledger.job(id: job.id)
            switch record.state {
            case .admitted where job.state == .running:
                let reason = "interrupted by a daemon restart; the charge is kept"
                try ledger.fail(job: job.id, reason: reason)
                try await jobs.finish(id: job.id, state: .failed, reason: reason)
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
        for id in changed {
            logger.notice("job reconciled with the ledger at start-up", metadata: ["dptune.job": "\(id)"])
        }
        return changed
    }
}
