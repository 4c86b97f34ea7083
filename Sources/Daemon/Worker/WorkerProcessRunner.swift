// SPDX-License-Identifier: Apache-2.0
import Control
import Foundation
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// The production ``JobRunner``: one `dptuned worker` process per job (DESIGN §6).
///
/// At a job's start it takes the strategy's current plugin version from the registry and
/// hands the worker that version's stored copy, so `dptunectl plugins` lists the job under
/// it and a new build dropped in meanwhile changes nothing for the job. The version is
/// released when the job ends.
///
/// The worker's end decides the outcome: its result line and exit status normally; a
/// signal (a crash, the kernel's OOM killer, `kill -9`) fails the job with the signal in
/// the reason, and the daemon carries on. A cancel sends SIGTERM (the worker stops after
/// its step, or before it writes the adapter), then SIGKILL after the grace period; once the
/// worker has been told to publish (``WorkerMessage/Kind/publishing``), a cancel is
/// refused. A daemon shutdown closes every worker's
/// lifeline (the worker exits at once, as when the daemon dies) and leaves the jobs to
/// resume at the next start.
public actor WorkerProcessRunner: JobRunner {
    private struct RunningWorker {
        let pid: Int32
        /// The write end of the worker's standard input; closing it stops the worker.
        let lifeline: FileHandle
        var cancelRequested = false
        /// The worker was told to publish the adapter, or said it had: a cancel can no
        /// longer stop the job.
        var publishing = false
    }

    private let executable: URL
    private let config: ChildConfig
    private let plugins: PluginRegistry
    private let cancelGrace: Duration
    private let logger: Logger
    private var workers: [String: RunningWorker] = [:]
    /// Jobs cancelled between their start and their worker's spawn.
    private var cancelledEarly: Set<String> = []
    /// Set by ``interruptAll()``: the daemon is stopping and spawns no more workers.
    private var interrupting = false

    /// - Parameters:
    ///   - executable: the `dptuned` binary, run as `dptuned worker`.
    ///   - config: where the worker reads the config the daemon runs under.
    ///   - cancelGrace: how long a cancelled worker may take to stop before SIGKILL.
    public init(executable: URL, config: ChildConfig, plugins: PluginRegistry, cancelGrace: Duration, logger: Logger) {
        self.executable = executable
        self.config = config
        self.plugins = plugins
        self.cancelGrace = cancelGrace
        self.logger = logger
    }

    public func run(
        _ job: DaemonJob, started: @escaping @Sendable (_ strategyVersion: String) async -> Void,
        progress: @escaping @Sendable (ProgressEvent) async -> Void
    ) async -> JobOutcome {
        guard let version = await plugins.acquire(strategy: job.strategy, job: job.id) else {
            return .failed(reason: "no loaded plugin provides strategy \(job.strategy)")
        }
        await started(version.description.version)
        let outcome: JobOutcome
        if cancelledEarly.remove(job.id) != nil {
            outcome = .cancelled(reason: "cancelled by an operator before its worker started")
        } else if interrupting {
            outcome = .interrupted(reason: "the daemon stopped before the job's worker started")
        } else {
            outcome = await supervise(job, plugin: version, progress: progress)
        }
        await plugins.release(job: job.id)
        return outcome
    }

    public func cancel(jobID id: String) async -> String? {
        guard var worker = workers[id] else {
            cancelledEarly.insert(id)
            return nil
        }
        if worker.publishing { return "its worker is publishing the adapter" }
        guard !worker.cancelRequested else { return nil }
        worker.cancelRequested = true
        workers[id] = worker
        logger.notice("stopping the worker of a cancelled job", metadata: ["dptune.job": "\(id)", "dptune.pid": "\(worker.pid)"])
        kill(worker.pid, SIGTERM)
        killAfterGrace(job: id, pid: worker.pid)
        return nil
    }

    /// Lets the worker of job `id` publish, unless a cancel came first: then its SIGTERM
    /// stops the worker instead. Decided here, on the actor, so a cancel is either before it
    /// (and the job ends cancelled) or after it (and is refused). A stopping daemon has
    /// closed the lifelines already; the worker exits and its job resumes at the next start.
    private func goAhead(_ id: String) {
        guard !interrupting, var worker = workers[id], !worker.cancelRequested else { return }
        worker.publishing = true
        workers[id] = worker
        // A worker already gone makes this write fail (EPIPE; the daemon ignores SIGPIPE); its
        // exit then decides the outcome.
        try? worker.lifeline.write(contentsOf: Data([0x01]))
    }

    public func interruptAll() async {
        interrupting = true
        for (id, worker) in workers {
            logger.notice("stopping the worker for the daemon's shutdown; the job resumes at the next start",
                          metadata: ["dptune.job": "\(id)", "dptune.pid": "\(worker.pid)"])
            try? worker.lifeline.close()
            killAfterGrace(job: id, pid: worker.pid)
        }
    }

    /// SIGKILL for a worker told to stop that still runs after the grace period.
    private func killAfterGrace(job id: String, pid: Int32) {
        let grace = cancelGrace
        Task {
            try? await Task.sleep(for: grace)
            self.killIfStillRunning(job: id, pid: pid)
        }
    }

    private func killIfStillRunning(job id: String, pid: Int32) {
        guard workers[id]?.pid == pid else { return }
        logger.warning("the worker did not stop in time; killing it", metadata: ["dptune.job": "\(id)", "dptune.pid": "\(pid)"])
        kill(pid, SIGKILL)
    }

    /// Spawns the worker, forwards its progress, and waits for its end.
    private func supervise(
        _ job: DaemonJob, plugin: PluginRegistry.Version, progress: @escaping @Sendable (ProgressEvent) async -> Void
    ) async -> JobOutcome {
        let process = Process()
        process.executableURL = executable
        process.arguments = [
            "worker", "--job", job.id, "--plugin", plugin.storedFile.path, "--exit-when-input-closes",
        ] + config.arguments
        // The worker's standard input is its lifeline: the daemon holds the write end and
        // never writes, so the worker sees end of file exactly when the daemon is gone.
        let lifeline = Pipe()
        let reports = Pipe()
        process.standardInput = lifeline
        process.standardOutput = reports
        let (ended, endedContinuation) = AsyncStream.makeStream(of: Void.self)
        process.terminationHandler = { _ in endedContinuation.finish() }
        do {
            try process.run()
        } catch {
            return .postponed(reason: "cannot start the worker \(executable.path): \(error)")
        }
        workers[job.id] = RunningWorker(pid: process.processIdentifier, lifeline: lifeline.fileHandleForWriting)
        // The build's key (id@version#sha256 prefix) traces which plugin bytes trained the job.
        logger.info("worker started", metadata: [
            "dptune.job": "\(job.id)", "dptune.pid": "\(process.processIdentifier)", "dptune.plugin": "\(plugin.key)",
        ])

        var result: WorkerMessage?
        for await message in Self.messages(from: reports.fileHandleForReading) {
            if message.kind == .publishing {
                goAhead(job.id)
                continue
            }
            guard message.kind == .progress else {
                result = message
                if message.kind == .succeeded { workers[job.id]?.publishing = true }
                continue
            }
            await progress(ProgressEvent(
                jobID: job.id, state: .running, step: message.step ?? 0, totalSteps: message.steps ?? job.steps,
                loss: message.loss, epsilonSpent: message.epsilonSpent ?? 0,
                examplesPerSecond: message.examplesPerSecond ?? 0))
        }
        for await _ in ended {}
        let cancelRequested = workers.removeValue(forKey: job.id)?.cancelRequested ?? false
        if !interrupting { try? lifeline.fileHandleForWriting.close() }
        cancelledEarly.remove(job.id)
        let signalled = process.terminationReason == .uncaughtSignal
        return Self.outcome(
            status: process.terminationStatus, signalled: signalled, result: result, cancelRequested: cancelRequested,
            interrupted: interrupting, grace: cancelGrace)
    }

    /// How a job ended, from the worker's exit and its last message.
    ///
    /// - Parameter interrupted: the daemon is stopping; a job that did not succeed is
    ///   interrupted, whatever its worker said (SIGTERM or SIGINT may have reached the whole
    ///   process group, as a terminal's Ctrl-C does).
    static func outcome(
        status: Int32, signalled: Bool, result: WorkerMessage?, cancelRequested: Bool, interrupted: Bool,
        grace: Duration
    ) -> JobOutcome {
        if !signalled, status == WorkerExitStatus.succeeded, result?.kind == .succeeded, let path = result?.adapterPath {
            return .succeeded(adapterPath: path)
        }
        if cancelRequested {
            return .cancelled(reason: signalled
                ? "cancelled by an operator; the worker did not stop within \(grace) and was killed"
                : "cancelled by an operator")
        }
        if interrupted {
            return .interrupted(reason: "the daemon stopped while the job ran; it resumes at the next start")
        }
        if signalled {
            let name = strsignal(status).map { String(cString: $0) } ?? "unknown signal"
            return .failed(reason: "worker killed by signal \(status) (\(name))")
        }
        switch (status, result?.kind) {
        case (WorkerExitStatus.failed, .failed):
            return .failed(reason: result?.reason ?? "the worker failed without a reason")
        case (WorkerExitStatus.postponed, .postponed):
            return .postponed(reason: result?.reason ?? "the host ran short")
        case (WorkerExitStatus.cancelled, _):
            return .cancelled(reason: "the worker was stopped by SIGTERM from outside the daemon")
        default:
            return .failed(reason: "worker exited with status \(status) without a result")
        }
    }

    /// The worker's report lines, read on a thread of their own (a blocking read must not
    /// hold one of the few cooperative threads); the stream ends at end of file.
    private static func messages(from handle: FileHandle) -> AsyncStream<WorkerMessage> {
        let (stream, continuation) = AsyncStream.makeStream(of: WorkerMessage.self)
        Thread.detachNewThread {
            let decoder = WorkerMessage.makeDecoder()
            var pending = Data()
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, $0.count) }
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { break }
                pending.append(contentsOf: buffer[0..<count])
                while let newline = pending.firstIndex(of: 0x0A) {
                    let line = pending[pending.startIndex..<newline]
                    pending = Data(pending[pending.index(after: newline)...])
                    if let message = try? decoder.decode(WorkerMessage.self, from: line) {
                        continuation.yield(message)
                    }
                }
            }
            continuation.finish()
        }
        return stream
    }
}
