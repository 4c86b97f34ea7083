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

    /// Once the worker has said it published, a cancel is refused: it used to be answered
    /// as a cancel under way (SIGTERM to a worker that was only exiting) while the job
    /// settled as succeeded. The worker here is a script that says so and lingers.
    @Test func aCancelAfterThePublicationIsRefused() async throws {
        let world = try DaemonWorld()
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
        let line = try world.fixture.directory.write("result.line", WorkerMessage.succeeded(adapterPath: "/adapters/j").line())
        let published = root.appendingPathComponent("published")
        let worker = URL(fileURLWithPath: try world.fixture.directory.write("worker.sh", """
            #!/bin/sh
            cat '\(line)'
            touch '\(published.path)'
            exec sleep 3
            """))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: worker.path)
        let runner = WorkerProcessRunner(
            executable: worker, config: ChildConfig(original: world.fixture.configFile, copy: nil), plugins: registry,
            cancelGrace: .seconds(10), logger: DaemonFixture.logger)
        let outcome = Task { [job] in await runner.run(job, started: { _ in }, progress: { _ in }) }
        let said = try await onOwnThread { () -> Bool in
            for _ in 0..<200 where !FileManager.default.fileExists(atPath: published.path) { usleep(50_000) }
            return FileManager.default.fileExists(atPath: published.path)
        }
        try #require(said)
        try await Task.sleep(for: .milliseconds(500))
        #expect(await runner.cancel(jobID: job.id) == "its worker has published the adapter")
        #expect(await outcome.value == .succeeded(adapterPath: "/adapters/j"))
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
