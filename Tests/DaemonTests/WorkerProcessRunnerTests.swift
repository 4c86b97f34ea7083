// SPDX-License-Identifier: Apache-2.0
@testable import Daemon
import Foundation
import Testing
import TestSupport

/// How a worker's end becomes a job's outcome (the processes themselves run in
/// ``WorkerEndToEndTests``).
@Suite struct WorkerProcessRunnerTests {
    static let grace = Duration.seconds(10)

    static func outcome(
        status: Int32, signalled: Bool = false, result: WorkerMessage?, cancelRequested: Bool = false,
        interrupted: Bool = false
    ) -> JobOutcome {
        WorkerProcessRunner.outcome(
            status: status, signalled: signalled, result: result, cancelRequested: cancelRequested,
            interrupted: interrupted, grace: grace)
    }

    @Test func successNeedsTheResultLineAndStatusZero() {
        #expect(Self.outcome(status: 0, result: .succeeded(adapterPath: "/a/j-1")) == .succeeded(adapterPath: "/a/j-1"))
        // A clean exit without a result line is not a success.
        #expect(Self.outcome(status: 0, result: nil) == .failed(reason: "worker exited with status 0 without a result"))
        #expect(Self.outcome(status: 1, result: .failed("invalid_record: label x")) == .failed(reason: "invalid_record: label x"))
    }

    @Test func signalsFailTheJobWithTheSignalNamed() {
        #expect(Self.outcome(status: SIGKILL, signalled: true, result: nil) == .failed(reason: "worker killed by signal 9 (Killed)"))
        guard case .failed(let reason) = Self.outcome(status: SIGSEGV, signalled: true, result: nil) else {
            Issue.record("a segfault must fail the job")
            return
        }
        #expect(reason.hasPrefix("worker killed by signal 11"))
    }

    @Test func anOperatorsCancelWinsUnlessTheJobAlreadySucceeded() {
        #expect(Self.outcome(status: WorkerExitStatus.cancelled, result: .cancelled("stopped"), cancelRequested: true)
            == .cancelled(reason: "cancelled by an operator"))
        guard case .cancelled(let killed) = Self.outcome(status: SIGKILL, signalled: true, result: nil, cancelRequested: true) else {
            Issue.record("a worker killed after the grace period is still a cancel")
            return
        }
        #expect(killed.contains("was killed"))
        #expect(Self.outcome(status: 0, result: .succeeded(adapterPath: "/a"), cancelRequested: true) == .succeeded(adapterPath: "/a"))
    }

    /// A shutdown neither fails nor cancels a job, however its worker ended (the lifeline
    /// closed, SIGTERM or Ctrl-C to the whole process group, SIGKILL after the grace period).
    @Test func aShutdownInterruptsTheJobUnlessItSucceededOrWasCancelled() {
        let interrupted = JobOutcome.interrupted(reason: "the daemon stopped while the job ran; it resumes at the next start")
        #expect(Self.outcome(status: WorkerExitStatus.orphaned, result: nil, interrupted: true) == interrupted)
        #expect(Self.outcome(status: WorkerExitStatus.cancelled, result: .cancelled("stopped by SIGTERM after a step"),
                             interrupted: true) == interrupted)
        #expect(Self.outcome(status: SIGKILL, signalled: true, result: nil, interrupted: true) == interrupted)
        #expect(Self.outcome(status: 0, result: .succeeded(adapterPath: "/a"), interrupted: true) == .succeeded(adapterPath: "/a"))
        #expect(Self.outcome(status: WorkerExitStatus.cancelled, result: .cancelled("stopped"), cancelRequested: true,
                             interrupted: true) == .cancelled(reason: "cancelled by an operator"))
    }

    /// A worker that ran short of disk or memory postpones its job, unless an operator's
    /// cancel or a shutdown came first; the line alone, without its status, is no postponement.
    @Test func aShortHostPostponesTheJob() {
        let short = WorkerMessage.postponed("cannot stage a private copy: No space left on device")
        #expect(Self.outcome(status: WorkerExitStatus.postponed, result: short)
            == .postponed(reason: "cannot stage a private copy: No space left on device"))
        #expect(Self.outcome(status: WorkerExitStatus.postponed, result: short, cancelRequested: true)
            == .cancelled(reason: "cancelled by an operator"))
        #expect(Self.outcome(status: WorkerExitStatus.postponed, result: short, interrupted: true)
            == .interrupted(reason: "the daemon stopped while the job ran; it resumes at the next start"))
        #expect(Self.outcome(status: WorkerExitStatus.failed, result: short) == .failed(reason: "worker exited with status 1 without a result"))
    }

    /// A runner over the job of `world`'s dropped dataset, whose worker is the shell `script`
    /// (the lines it may print are in the files `publishing.line` and `result.line`).
    private static func scriptedRunner(_ world: DaemonWorld, script: String) async throws -> (WorkerProcessRunner, DaemonJob) {
        try world.fixture.drop("reviews", manifest: DaemonFixture.manifest(account: "acme"))
        var job = try #require(await world.intake.process("reviews.jsonl"))
        job.strategy = "echo"
        let root = world.fixture.directory.url
        let plugins = root.appendingPathComponent("plugins")
        try FileManager.default.createDirectory(at: plugins, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: BuildProducts.library("EchoV1"), to: plugins.appendingPathComponent("libecho.so"))
        let registry = try PluginRegistry(pluginDirectory: plugins, stateDirectory: world.fixture.config.paths.stateDirectory,
                                          probeExecutable: BuildProducts.executable("dptuned"))
        await registry.scan()
        try world.fixture.directory.write("publishing.line", WorkerMessage.publishing.line())
        try world.fixture.directory.write("result.line", WorkerMessage.succeeded(adapterPath: "/adapters/j").line())
        let worker = URL(fileURLWithPath: try world.fixture.directory.write("worker.sh", "#!/bin/sh\ncd '\(root.path)'\n" + script))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: worker.path)
        let runner = WorkerProcessRunner(
            executable: worker, config: ChildConfig(original: world.fixture.configFile, copy: nil), plugins: registry,
            cancelGrace: .seconds(10), logger: DaemonFixture.logger)
        return (runner, job)
    }

    /// Waits up to 10 s for the file `name` in `world`'s directory.
    private static func appears(_ name: String, in world: DaemonWorld) async throws -> Bool {
        let path = world.fixture.directory.url.appendingPathComponent(name).path
        return try await onOwnThread { () -> Bool in
            for _ in 0..<200 where !FileManager.default.fileExists(atPath: path) { usleep(50_000) }
            return FileManager.default.fileExists(atPath: path)
        }
    }

    /// A worker that ignores SIGTERM (to see what it is told), touches `started`, waits for
    /// `proceed`, asks to publish, touches `told` if it gets the go-ahead within 2 s, and
    /// exits with `exitStatus`.
    private static func askingWorker(exitStatus: Int32) -> String {
        """
        trap '' TERM
        touch started
        while [ ! -e proceed ]; do sleep 0.05; done
        cat publishing.line
        if [ "$(timeout 2 head -c 1 | wc -c)" -eq 1 ]; then touch told; fi
        exit \(exitStatus)
        """
    }

    /// A cancel after the worker was told to publish is refused, and the job succeeds: it
    /// used to be answered as under way (SIGTERM to a worker already writing its adapter)
    /// while the job settled as succeeded, 4 times in 25 cancels sent at the last step.
    @Test func aCancelAfterTheGoAheadIsRefused() async throws {
        let world = try DaemonWorld()
        let (runner, job) = try await Self.scriptedRunner(world, script: """
            cat publishing.line
            touch asked
            [ "$(timeout 10 head -c 1 | wc -c)" -eq 1 ] || exit 1
            cat result.line
            exec sleep 1
            """)
        let outcome = Task { [job] in await runner.run(job, started: { _ in }, progress: { _ in }) }
        try #require(try await Self.appears("asked", in: world))
        try await Task.sleep(for: .milliseconds(500))
        #expect(await runner.cancel(jobID: job.id) == "its worker is publishing the adapter")
        #expect(await outcome.value == .succeeded(adapterPath: "/adapters/j"))
    }

    /// A cancel before the worker asks to publish keeps the go-ahead back: the worker (here
    /// one that ignores SIGTERM, to see what it is told) never hears it, and the job ends
    /// cancelled.
    @Test func aCancelBeforeTheWorkerAsksKeepsTheGoAheadBack() async throws {
        let world = try DaemonWorld()
        let (runner, job) = try await Self.scriptedRunner(world, script: Self.askingWorker(exitStatus: WorkerExitStatus.cancelled))
        let outcome = Task { [job] in await runner.run(job, started: { _ in }, progress: { _ in }) }
        try #require(try await Self.appears("started", in: world))
        #expect(await runner.cancel(jobID: job.id) == nil)
        try world.fixture.directory.write("proceed", "")
        #expect(await outcome.value == .cancelled(reason: "cancelled by an operator"))
        #expect(!FileManager.default.fileExists(atPath: world.fixture.directory.url.appendingPathComponent("told").path),
                "the worker was told to publish")
    }

    /// A shutdown closes the workers' lifelines: a worker that asks to publish after it gets
    /// no go-ahead (a write to its closed lifeline must not bring the daemon down), and its
    /// job is interrupted, to resume at the next start.
    @Test func noGoAheadOnceTheDaemonIsStopping() async throws {
        let world = try DaemonWorld()
        let (runner, job) = try await Self.scriptedRunner(world, script: Self.askingWorker(exitStatus: WorkerExitStatus.orphaned))
        let outcome = Task { [job] in await runner.run(job, started: { _ in }, progress: { _ in }) }
        try #require(try await Self.appears("started", in: world))
        await runner.interruptAll()
        try world.fixture.directory.write("proceed", "")
        #expect(await outcome.value == .interrupted(reason: "the daemon stopped while the job ran; it resumes at the next start"))
        #expect(!FileManager.default.fileExists(atPath: world.fixture.directory.url.appendingPathComponent("told").path),
                "the worker was told to publish")
    }

    @Test func messagesRoundTripAsOneJSONLine() throws {
        let message = WorkerMessage.progress(step: 3, steps: 10, loss: 0.5, epsilonSpent: 1.5, examplesPerSecond: 12)
        let line = message.line()
        #expect(line.last == 0x0A)
        #expect(line.dropLast().firstIndex(of: 0x0A) == nil)
        #expect(try JSONDecoder().decode(WorkerMessage.self, from: line.dropLast()) == message)
        #expect(String(decoding: line, as: UTF8.self).contains(#""epsilon_spent":1.5"#))
    }

    /// A diverged loss is NaN or infinite, which plain JSON cannot carry: the line carries it
    /// as a string and reads back as the same progress (before, the worker wrote a "failed"
    /// line in its place).
    @Test func nonFiniteNumbersKeepTheirProgressLine() throws {
        let message = WorkerMessage.progress(step: 4, steps: 10, loss: .nan, epsilonSpent: .infinity, examplesPerSecond: 12)
        let line = message.line()
        #expect(String(decoding: line, as: UTF8.self).contains(#""loss":"NaN""#))
        let read = try WorkerMessage.makeDecoder().decode(WorkerMessage.self, from: line.dropLast())
        #expect(read.kind == .progress && read.step == 4)
        #expect(read.loss?.isNaN == true && read.epsilonSpent == .infinity)
    }
}
