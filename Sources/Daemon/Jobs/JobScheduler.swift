// SPDX-License-Identifier: Apache-2.0
import Control
import Foundation
import Ledger
import Logging
import Spool

/// Hands queued jobs to the ``JobRunner`` in FIFO order, at most `workers` at a time, and
/// settles each outcome.
///
/// Settling goes ledger first (commit, fail or cancel: the charge stays in every case),
/// then the job record, then the dataset to `done/` with its result. Only the daemon writes
/// the ledger; the runner only trains. A job interrupted by the daemon's shutdown is not
/// settled: it stays running in its record and admitted in the ledger, and the next start
/// queues it again (``JobReconciliation``). A job postponed because the host ran short is
/// not settled either: it is queued again after a wait of its ``RetrySchedule``.
public actor JobScheduler: JobCancelling {
    private let jobs: JobStore
    private let ledger: LedgerStore
    private let spool: SpoolDirectory
    private let runner: any JobRunner
    private let workers: Int
    private let logger: Logger
    private let onProgress: @Sendable (ProgressEvent) async -> Void
    private let retrySchedule: RetrySchedule
    private let scratchFiles: @Sendable (_ jobID: String) -> [URL]
    /// The wait before the last new try of each job postponed so far in a row.
    private var postponements: [String: Duration] = [:]
    /// The jobs waiting out a postponement, and whether an operator cancelled the wait.
    private var waiting: [String: Bool] = [:]
    /// The jobs whose outcome is decided and being recorded, by the state it gives them.
    private var settling: [String: JobState] = [:]
    private var running = 0
    /// Set by ``drain()``: no job starts any more.
    private var draining = false
    /// ``drain()`` callers waiting for the running jobs to end.
    private var drained: [CheckedContinuation<Void, Never>] = []
    private let wakeups: AsyncStream<Void>
    private let wakeup: AsyncStream<Void>.Continuation

    /// - Parameters:
    ///   - retrySchedule: the waits before settling again, and before running a postponed
    ///     job again.
    ///   - scratchFiles: what a job's worker leaves behind (its checkpoint to resume from,
    ///     its plugin staging directory, an adapter it was killed publishing), removed once
    ///     the job is settled.
    ///   - onProgress: called after each progress report is recorded (the daemon updates its
    ///     `STATUS=` line).
    public init(
        jobs: JobStore, ledger: LedgerStore, spool: SpoolDirectory, runner: any JobRunner, workers: Int,
        retrySchedule: RetrySchedule = .standard, scratchFiles: @escaping @Sendable (_ jobID: String) -> [URL] = { _ in [] },
        logger: Logger,
        onProgress: @escaping @Sendable (ProgressEvent) async -> Void = { _ in }
    ) {
        precondition(workers >= 1, "a scheduler needs at least one worker; found \(workers)")
        self.jobs = jobs
        self.ledger = ledger
        self.spool = spool
        self.runner = runner
        self.workers = workers
        self.retrySchedule = retrySchedule
        self.scratchFiles = scratchFiles
        self.logger = logger
        self.onProgress = onProgress
        (wakeups, wakeup) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Stops a running job: through the runner while its worker runs, at once while it waits
    /// out a postponement; a job whose outcome is already decided cannot be cancelled any
    /// more (an operator was told it was, and it then succeeded).
    public func cancel(jobID id: String) async -> String? {
        if let state = settling[id] {
            return "its worker already ended (\(state.rawValue)) and the outcome is being recorded"
        }
        if waiting[id] != nil {
            waiting[id] = true
            return nil
        }
        return await runner.cancel(jobID: id)
    }

    /// Returns once the scheduler's actor runs: the daemon's watchdog pings only while it does.
    public func heartbeat() {}

    /// Asks the scheduler to look at the queue (after a job was queued).
    public nonisolated func wake() { wakeup.yield() }

    /// Starts jobs as workers free up, until the task is cancelled.
    public func run() async {
        wake()
        for await _ in wakeups {
            if Task.isCancelled { break }
            await startWhileWorkersFree()
        }
    }

    /// Stops for a daemon shutdown: starts no more jobs, has the runner interrupt the
    /// running ones, and returns once every job is settled or left to resume.
    ///
    /// - Important: bounded by the runner, which kills a worker that does not stop within
    ///   its grace period.
    public func drain() async {
        draining = true
        await runner.interruptAll()
        if running > 0 {
            await withCheckedContinuation { drained.append($0) }
        }
    }

    /// Starts queued jobs until the queue is empty or every worker is busy; a job that
    /// ends frees its worker and wakes the loop.
    private func startWhileWorkersFree() async {
        while running < workers, !draining {
            let next: DaemonJob?
            do {
                next = try await jobs.startNext()
            } catch {
                logger.error("cannot start the next job", metadata: ["dptune.error": "\(error)"])
                return
            }
            guard let job = next else { return }
            running += 1
            Task {
                await execute(job)
                running -= 1
                if running == 0 {
                    for waiter in drained { waiter.resume() }
                    drained = []
                }
                wake()
            }
        }
    }

    private func execute(_ job: DaemonJob) async {
        logger.info("job started", metadata: ["dptune.job": "\(job.id)"])
        let (store, onProgress) = (jobs, onProgress)
        var outcome = await runner.run(job) { version in
            try? await store.record(strategyVersion: version, id: job.id)
        } progress: { event in
            try? await store.record(event)
            await onProgress(event)
        }
        if case .postponed(let reason) = outcome {
            guard let cancelled = await postpone(job, reason: reason) else { return }
            outcome = cancelled
        }
        var ended = job
        let ledger = ledger
        let settleLedger: () throws -> Void
        switch outcome {
        case .succeeded(let adapterPath):
            (ended.state, ended.adapterPath) = (.succeeded, adapterPath)
            settleLedger = { try ledger.commit(job: job.id) }
        case .failed(let reason):
            (ended.state, ended.reason) = (.failed, reason)
            settleLedger = { try ledger.fail(job: job.id, reason: reason) }
        case .cancelled(let reason):
            (ended.state, ended.reason) = (.cancelled, reason)
            settleLedger = { try ledger.cancel(job: job.id, reason: reason) }
        case .interrupted(let reason):
            logger.notice("job interrupted: it stays admitted and resumes at the next start",
                          metadata: ["dptune.job": "\(job.id)", "dptune.reason": "\(reason)"])
            return
        case .postponed:
            preconditionFailure("a postponed job is queued again or cancelled, never settled as postponed")
        }
        settling[job.id] = ended.state
        defer { settling[job.id] = nil }
        postponements[job.id] = nil
        // Settling writes the ledger, done/ and the record, each of which a full disk can
        // refuse. Given up after one try, the job stayed "running" until a restart (`watch`
        // never ended); so each step not yet done is tried again, less and less often,
        // until the daemon stops, and the next start settles what is left.
        var (ledgerSettled, resultFiled) = (false, false)
        var resultFile: String?
        var delay = retrySchedule.first
        while true {
            do {
                if !ledgerSettled {
                    try settleLedger()
                    ledgerSettled = true
                }
                // The result lands in done/ before the record turns final, so whoever sees the
                // job ended (status, watch) finds its result there.
                if !resultFiled {
                    resultFile = try spool.fileResult(of: ended)
                    resultFiled = true
                }
                try await jobs.finish(id: job.id, state: ended.state, reason: ended.reason, adapterPath: ended.adapterPath,
                                      resultFile: resultFile)
                // A failed or cancelled job's checkpoint holds its last parameters and the
                // losses measured on its private data, not privatized; nothing resumes it now.
                for file in scratchFiles(job.id) { try? FileManager.default.removeItem(at: file) }
                logger.log(level: ended.state == .succeeded ? .info : .notice, "job ended",
                           metadata: ["dptune.job": "\(job.id)", "dptune.outcome": "\(outcome)"])
                return
            } catch {
                guard !draining else {
                    logger.error("cannot settle the job; the next start settles it",
                                 metadata: ["dptune.job": "\(job.id)", "dptune.error": "\(error)"])
                    return
                }
                logger.error("cannot settle the job; trying again", metadata: [
                    "dptune.job": "\(job.id)", "dptune.error": "\(error)", "dptune.retry_in_seconds": "\(delay / .seconds(1))",
                ])
                await RetrySchedule.sleep(delay) { await self.draining }
                delay = retrySchedule.delay(after: delay)
            }
        }
    }

    /// Whether a postponed job's wait is to end early: the daemon stops, or an operator
    /// cancelled the job.
    private func endsWait(of id: String) -> Bool { draining || waiting[id] == true }

    /// Queues `job` again once the next wait of its schedule is over; the job keeps its
    /// charge and its checkpoint, and its worker slot meanwhile, since the next job would
    /// most likely run short the same way. A shutdown meanwhile leaves it running in its
    /// record, for the next start to queue (as an interrupted job).
    ///
    /// - Returns: the outcome to settle when an operator cancelled the job meanwhile; nil
    ///   when it was queued again or left to the next start.
    private func postpone(_ job: DaemonJob, reason: String) async -> JobOutcome? {
        waiting[job.id] = false
        defer { waiting[job.id] = nil }
        while true {
            let delay = retrySchedule.delay(after: postponements[job.id])
            postponements[job.id] = delay
            logger.error("the host ran short for the job; it runs again under its charge", metadata: [
                "dptune.job": "\(job.id)", "dptune.reason": "\(reason)", "dptune.retry_in_seconds": "\(delay / .seconds(1))",
            ])
            await jobs.record(waiting: "waiting for room on the host, next try in \(delay / .seconds(1)) s: \(reason)", id: job.id)
            let id = job.id
            await RetrySchedule.sleep(delay) { await self.endsWait(of: id) }
            if waiting[job.id] == true {
                postponements[job.id] = nil
                return .cancelled(reason: "cancelled by an operator while it waited for room on the host")
            }
            if draining { return nil }
            do {
                try await jobs.requeue(id: job.id)
                return nil
            } catch {
                logger.error("cannot queue the postponed job again", metadata: ["dptune.job": "\(job.id)", "dptune.error": "\(error)"])
            }
        }
    }
}
