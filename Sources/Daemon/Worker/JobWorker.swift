// SPDX-License-Identifier: Apache-2.0
import Dispatch
import Foundation
import Linalg
import Logging
import Records
import Synchronization
import Training
#if canImport(Glibc)
import Glibc
#endif

/// `dptuned worker --job ID --daemon-config FILE --plugin FILE`: trains one job in a process of its own (DESIGN §6), so a
/// plugin that crashes, aborts or runs out of memory fails that job and not the daemon.
///
/// The worker reads what intake fixed (the job record, the dataset in `accepted/` and its
/// manifest, parsed with the config's defaults as intake parsed it), loads the plugin
/// build the daemon chose for the job, and trains, resuming from the job's checkpoint if
/// one exists. It never touches the ledger: it reports ``WorkerMessage`` lines on its
/// standard output, and the daemon settles the job.
///
/// SIGTERM stops the job after the current step (exit status
/// ``WorkerExitStatus/cancelled``). When the daemon dies, the worker's standard input
/// reaches end of file and the worker exits at once, so a restarted daemon never finds a
/// stale worker still writing the job's checkpoint.
public enum JobWorker {
    /// Runs job `jobID` to its end.
    ///
    /// - Parameters:
    ///   - pluginFile: the registry's stored copy of the plugin version acquired for the job.
    ///   - exitWhenInputCloses: end the process when standard input closes (the daemon's lifeline).
    /// - Returns: the process exit status (``WorkerExitStatus``).
    public static func run(
        jobID: String, config childConfig: ChildConfig, pluginFile: URL, exitWhenInputCloses: Bool, logger: Logger
    ) -> Int32 {
        let channel = ReportChannel()
        let goAhead = GoAhead()
        if exitWhenInputCloses { watchLifeline(goAhead) }
        let stop = StopRequest()
        let signalSources = stop.watch([SIGTERM, SIGINT])
        defer { for source in signalSources { source.cancel() } }
        do {
            let config = try childConfig.read()
            let job = try readJob(jobID, config: config)
            let output = config.adapterDirectory(job: job.id)
            if AdapterArtifacts.isPublished(job: job.id, in: output) {
                // Published before the daemon could settle the job (it died in between).
                logger.notice("adapter already published; not training again", metadata: ["dptune.job": "\(job.id)"])
                channel.send(.succeeded(adapterPath: output.path))
                return WorkerExitStatus.succeeded
            }
            let training = try trainingJob(job, config: config, pluginFile: pluginFile, output: output)
            BLAS.setThreadCount(config.scheduler.threadsPerWorker)
            let resuming = training.checkpointURL.map { FileManager.default.fileExists(atPath: $0.path) } ?? false
            logger.info("worker training", metadata: [
                "dptune.job": "\(job.id)", "dptune.strategy": "\(training.strategy.id)@\(training.strategy.version)",
                "dptune.resume": "\(resuming)",
            ])
            let examplesPerStep = job.samplingRate * Double(job.populationSize)
            var first: (step: Int, time: ContinuousClock.Instant)?
            var lastSent: ContinuousClock.Instant?
            _ = try training.run { report in
                if stop.requested { return false }
                let now = ContinuousClock.now
                // Steps of a small head take microseconds: report at most ten times a second.
                if let lastSent, now - lastSent < .milliseconds(100), report.step < report.steps { return true }
                lastSent = now
                let start = first ?? (report.step - 1, now)
                first = start
                let elapsed = (now - start.time) / .seconds(1)
                let rate = elapsed > 0 ? Double(report.step - start.step - 1) * examplesPerStep / elapsed : 0
                channel.send(.progress(step: report.step, steps: report.steps, loss: report.loss,
                                       epsilonSpent: report.epsilonSpent, examplesPerSecond: rate))
                return true
            } mayPublish: {
                guard !stop.requested else { return false }
                // Without the daemon's lifeline (a worker run by hand) there is no one to ask.
                guard exitWhenInputCloses else { return true }
                channel.send(.publishing)
                return goAhead.wait(unless: stop)
            } checkpointFailed: { error in
                logger.warning("checkpoint not written; training goes on, and an interruption resumes from the last one written",
                               metadata: ["dptune.job": "\(job.id)", "dptune.error": "\(error)"])
            }
            channel.send(.succeeded(adapterPath: output.path))
            return WorkerExitStatus.succeeded
        } catch let error as TrainingError where error.code == .cancelled && stop.requested {
            channel.send(.cancelled("stopped by SIGTERM after a step"))
            return WorkerExitStatus.cancelled
        } catch where ResourceShortage.caused(error) {
            channel.send(.postponed("\(error)"))
            return WorkerExitStatus.postponed
        } catch {
            channel.send(.failed("\(error)"))
            return WorkerExitStatus.failed
        }
    }

    private static func readJob(_ id: String, config: DaemonConfig) throws -> DaemonJob {
        do {
            return try JobStore.record(id: id, stateDirectory: config.paths.stateDirectory)
        } catch {
            throw JobWorkerError(.jobUnreadable, "no readable record of job \(id.debugDescription): \(error)")
        }
    }

    /// The training run of `job`, from the files intake accepted.
    private static func trainingJob(
        _ job: DaemonJob, config: DaemonConfig, pluginFile: URL, output: URL
    ) throws -> TrainingJob {
        // The manifest and held-out fraction as admitted; records written before they were
        // kept read the spool's manifest under the config as it is now.
        let manifest = try job.admittedManifest.map { text throws(IntakeError) in
            try Manifest.parse(Data(text.utf8), defaults: config.defaults)
        } ?? config.manifest(ofDataset: job.dataset, in: .accepted)
        var training = try config.trainingJob(
            id: job.id, dataset: job.dataset, in: .accepted, manifest: manifest,
            heldOutFraction: job.heldOutFraction ?? config.heldOutFraction, pluginFile: pluginFile,
            stagingDirectory: config.workerStagingDirectory(job: job.id), output: output,
            ledgerCharge: job.chargeIDs.first.map(String.init))
        let checkpoint = config.checkpointFile(job: job.id)
        try FileManager.default.createDirectory(
            at: checkpoint.deletingLastPathComponent(), withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try FileManager.default.createDirectory(at: output.deletingLastPathComponent(), withIntermediateDirectories: true)
        training.checkpointURL = checkpoint
        training.chargedPlan = job.chargedPlan
        training.admittedDatasetSHA256 = job.datasetSHA256
        return training
    }

    /// Ends the process as soon as standard input closes: the daemon holds its other end.
    /// A byte read from it is the daemon's go-ahead to publish.
    private static func watchLifeline(_ goAhead: GoAhead) {
        Thread.detachNewThread {
            var byte: UInt8 = 0
            while true {
                let count = read(STDIN_FILENO, &byte, 1)
                if count < 0 && errno == EINTR { continue }
                if count <= 0 { _exit(WorkerExitStatus.orphaned) }
                goAhead.give()
            }
        }
    }
}

/// The daemon's go-ahead to publish (``WorkerMessage/Kind/publishing``).
private final class GoAhead: Sendable {
    private let given = Mutex(false)

    func give() { given.withLock { $0 = true } }

    /// Waits for the go-ahead; false once `stop` is requested first, as the daemon's cancel
    /// requests it instead of giving the go-ahead.
    func wait(unless stop: StopRequest) -> Bool {
        while true {
            if given.withLock({ $0 }) { return true }
            if stop.requested { return false }
            usleep(2_000)
        }
    }
}

/// The worker's report channel: its original standard output, kept for ``WorkerMessage``
/// lines only; file descriptor 1 then points at standard error, so whatever else the
/// process prints (a plugin's `print`) cannot corrupt the channel.
private struct ReportChannel {
    private let descriptor: Int32

    init() {
        signal(SIGPIPE, SIG_IGN)
        let copy = dup(STDOUT_FILENO)
        descriptor = copy >= 0 ? copy : STDOUT_FILENO
        if copy >= 0 { dup2(STDERR_FILENO, STDOUT_FILENO) }
    }

    /// Writes one line; a daemon that no longer reads means it is gone, and so is the job's
    /// reason to run.
    func send(_ message: WorkerMessage) {
        let data = message.line()
        data.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var offset = 0
            while offset < buffer.count {
                let written = write(descriptor, base + offset, buffer.count - offset)
                if written < 0 && errno == EINTR { continue }
                if written <= 0 { _exit(WorkerExitStatus.orphaned) }
                offset += written
            }
        }
    }
}
