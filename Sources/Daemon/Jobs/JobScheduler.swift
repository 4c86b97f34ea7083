// SPDX-License-Identifier: Apache-2.0
import Control
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
/// queues it again (``JobReconciliation``).
public actor JobScheduler {
    private let jobs: JobStore
    private let ledger: LedgerStore
    private let spool: SpoolDirectory
    private let runner: any JobRunner
    private let workers: Int
    private let logger: Logger
    private let onProgress: @Sendable (ProgressEvent) async -> Void
    private var running = 0
    /// Set by ``drain()``: no job starts any more.
    private var draining = false
    /// ``drain()`` callers waiting for the running jobs to end.
    private var drained: [CheckedContinuation<Void, Never>] = []
    private let wakeups: AsyncStream<Void>
    private let wakeup: AsyncStream<Void>.Continuation

    /// - Parameter onProgress: called after each progress report is recorded (the daemon
    ///   updates its `STATUS=` line).
    public init(
        jobs: JobStore, ledger: LedgerStore, spool: SpoolDirectory, runner: any JobRunner, workers: Int,
        logger: Logger, onProgress: @escaping @Sendable (ProgressEvent) async -> Void = { _ in }
    ) {
        precondition(workers >= 1, "a scheduler needs at least one worker; found \(workers)")
        self.jobs = jobs
        self.ledger = ledger
        self.spool = spool
        self.runner = runner
        self.workers = workers
        self.logger = logger
        self.onProgress = onProgress
        (wakeups, wakeup) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// The longest wait between two tries at settling a job.
    static let longestSettleRetrySeconds = 60

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
        let outcome = await runner.run(job) { version in
            try? await store.record(strategyVersion: version, id: job.id)
        } progress: { event in
            try? await store.record(event)
            await onProgress(event)
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
        }
        // Settling writes the ledger, done/ and the record, each of which a full disk can
        // refuse. Given up after one try, the job stayed "running" until a restart (`watch`
        // never ended); so each step not yet done is tried again, less and less often,
        // until the daemon stops, and the next start settles what is left.
        var (ledgerSettled, resultFiled) = (false, false)
        var delaySeconds = 1
        while true {
            do {
                if !ledgerSettled {
                    try settleLedger()
                    ledgerSettled = true
                }
                // The result lands in done/ before the record turns final, so whoever sees the
                // job ended (status, watch) finds its result there.
                if !resultFiled {
                    try spool.finish(job.dataset, result: JobResult(ended))
                    resultFiled = true
                }
                try await jobs.finish(id: job.id, state: ended.state, reason: ended.reason, adapterPath: ended.adapterPath)
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
                    "dptune.job": "\(job.id)", "dptune.error": "\(error)", "dptune.retry_in_seconds": "\(delaySeconds)",
                ])
                // In one-second slices, so that a shutdown is not held by the wait.
                for _ in 0..<delaySeconds where !draining { try? await Task.sleep(for: .seconds(1)) }
                delaySeconds = min(delaySeconds * 2, Self.longestSettleRetrySeconds)
            }
        }
    }
}
