// SPDX-License-Identifier: Apache-2.0
import Control

/// Where training happens: the seam between the scheduler and the worker processes
/// (`dptuned worker --job ID`, DESIGN §6).
///
/// The daemon keeps the ledger and the job records; a runner only trains and reports. It
/// never writes the ledger.
public protocol JobRunner: JobCancelling {
    /// Trains `job` to its end, reporting progress as it goes.
    ///
    /// - Parameters:
    ///   - started: awaited once the job's training begins, with the version of the plugin
    ///     build that trains it (plugins are swapped while jobs run, so the strategy id alone
    ///     does not say which code trained an adapter).
    ///   - progress: awaited for each report, so reports arrive in order.
    /// - Returns: how the job ended (succeeded, failed or cancelled) and why.
    func run(
        _ job: DaemonJob, started: @escaping @Sendable (_ strategyVersion: String) async -> Void,
        progress: @escaping @Sendable (ProgressEvent) async -> Void
    ) async -> JobOutcome

    /// Stops every job for a daemon shutdown; each ``run(_:progress:)`` then returns
    /// `.interrupted` (or its real outcome, if the job ended first), and no job starts any more.
    func interruptAll() async
}

/// Where an operator's cancel of a running job goes.
public protocol JobCancelling: Sendable {
    /// Asks the running job `id` to stop; a runner's ``JobRunner/run(_:started:progress:)``
    /// then returns `.cancelled`.
    ///
    /// - Returns: nil when it is being stopped; otherwise why it can no longer be (its worker
    ///   published the adapter, or ended and its outcome is being recorded).
    func cancel(jobID id: String) async -> String?
}

extension JobRunner {
    /// A runner whose jobs end on their own leaves them be.
    public func interruptAll() async {}
}

/// How a run ended.
public enum JobOutcome: Sendable, Hashable {
    case succeeded(adapterPath: String)
    case failed(reason: String)
    case cancelled(reason: String)
    /// The daemon is stopping and stopped the job: it is neither failed nor charged again;
    /// it stays admitted and resumes at the next start (``JobReconciliation``).
    case interrupted(reason: String)
    /// The host ran short (``ResourceShortage``: a full disk, say) before the job could train
    /// or finish, or its worker could not be started: nothing about the job, whose charge is
    /// already spent, so it runs again, resuming from its checkpoint, once the host has room.
    case postponed(reason: String)
}
