// SPDX-License-Identifier: Apache-2.0
import Control
import Daemon
import Foundation
import Ledger
import Spool
import Testing

@Suite struct DaemonControlHandlerTests {
    /// A daemon's parts with one queued job, answering on a real control socket.
    struct World {
        let fixture: DaemonFixture
        let ledger: LedgerStore
        let jobs: JobStore
        let server: ControlServer
        let job: DaemonJob
        let socketPath: String

        init(uploadLimits: UploadLimits = UploadLimits(), socketGroup: gid_t? = nil) async throws {
            let parts = try DaemonWorld()
            let spool = parts.spool
            (fixture, ledger, jobs) = (parts.fixture, parts.ledger, parts.jobs)
            try fixture.drop("reviews", manifest: DaemonFixture.manifest(account: "acme"))
            job = try #require(await parts.intake.process("reviews.jsonl"))
            let plugins = try PluginRegistry(
                pluginDirectory: fixture.directory.url.appendingPathComponent("plugins"),
                stateDirectory: fixture.config.paths.stateDirectory, probeExecutable: URL(fileURLWithPath: "/bin/false"))
            let handler = DaemonControlHandler(
                ledger: ledger, jobs: jobs, plugins: plugins, spool: spool, canceller: nil, version: "test",
                uploadLimits: uploadLimits)
            socketPath = fixture.directory.url.appendingPathComponent("control.sock").path
            server = ControlServer(
                configuration: .init(listener: .path(socketPath, group: socketGroup), adminGroup: getegid()), handler: handler)
            try server.start()
        }

        func send(_ request: ControlRequest) async throws -> ControlResult {
            let path = socketPath
            return try await onOwnThread { try ControlClient(socketPath: path, timeout: .seconds(10)).send(request) }
        }
    }

    @Test func answersStatusJobsLedgerAndAccounts() async throws {
        let world = try await World()
        defer { Task { await world.server.shutdown() } }

        guard case .status(let status) = try await world.send(.status) else { Issue.record("not a status"); return }
        #expect(status.queueLength == 1)
        #expect(status.runningJobs.isEmpty)
        #expect(status.ledgerPath == world.ledger.path)
        #expect(status.version == "test")

        guard case .jobs(let jobs) = try await world.send(.jobs) else { Issue.record("not jobs"); return }
        #expect(jobs.map(\.id) == [world.job.id])
        #expect(jobs.first?.state == .queued)
        #expect(jobs.first?.epsilonTarget == 2)

        guard case .job(let detail) = try await world.send(.job(id: world.job.id)) else { Issue.record("not a job"); return }
        #expect(detail.totalSteps == world.job.steps)
        #expect(detail.accountant == "rdp")

        guard case .ledger(let report) = try await world.send(.ledger(account: "acme")) else { Issue.record("not a ledger"); return }
        #expect(report.account?.name == "acme")
        #expect(report.charges.map(\.jobID) == [world.job.id])
        #expect(report.charges.first?.state == .reserved)
        #expect(report.account.map { $0.epsilonSpent > 0 && $0.epsilonRemaining < 20 } == true)

        guard case .accounts(let accounts) = try await world.send(.accounts) else { Issue.record("not accounts"); return }
        #expect(accounts.map(\.name) == ["acme", "poor"])
        #expect(accounts.first?.jobCount == 1)

        await #expect(throws: ControlError(.notFound, "")) { try await world.send(.job(id: "j-missing")) }
        await #expect(throws: ControlError(.notFound, "")) { try await world.send(.ledger(account: "nobody")) }
    }

    @Test func cancellingAQueuedJobKeepsItsCharge() async throws {
        let world = try await World()
        defer { Task { await world.server.shutdown() } }
        guard case .job(let detail) = try await world.send(.cancel(id: world.job.id)) else { Issue.record("not a job"); return }
        #expect(detail.summary.state == .cancelled)
        #expect(try world.ledger.job(id: world.job.id).state == .cancelled)
        #expect(try world.ledger.charges(account: "acme").map(\.state) == [.committed])
        #expect(await world.jobs.queuedIDs.isEmpty)
        let done = world.fixture.config.paths.spool.appendingPathComponent("done")
        #expect(FileManager.default.fileExists(atPath: done.appendingPathComponent("reviews.jsonl").path))
        #expect(FileManager.default.fileExists(atPath: done.appendingPathComponent("reviews.result.json").path))
        let path = world.socketPath
        let id = world.job.id
        let (final, eventCount) = try await onOwnThread {
            var count = 0
            let final = try ControlClient(socketPath: path, timeout: .seconds(10)).watch(jobID: id) { _ in count += 1 }
            return (final, count)
        }
        #expect(eventCount == 0)
        #expect(final.summary.state == .cancelled)
    }

    /// A cancel answers as a success only when the job is or will be cancelled: of a job
    /// that has succeeded or failed it is refused, where it used to answer 0 with the job's
    /// state, which a script reads as a cancel; of a cancelled job it still answers 0.
    @Test(arguments: [JobState.succeeded, .failed, .cancelled])
    func aCancelOfAnEndedJobIsASuccessOnlyIfItWasCancelled(state: JobState) async throws {
        let world = try await World()
        defer { Task { await world.server.shutdown() } }
        let ended = try #require(await world.jobs.startNext())
        try await world.jobs.finish(id: ended.id, state: state, reason: nil)
        if state == .cancelled {
            guard case .job(let detail) = try await world.send(.cancel(id: ended.id)) else { Issue.record("not a job"); return }
            #expect(detail.summary.state == .cancelled)
        } else {
            let refusal = await #expect(throws: ControlError.self) { try await world.send(.cancel(id: ended.id)) }
            #expect(refusal?.code == .notCancellable)
            #expect(refusal?.message == "job \(ended.id) cannot be cancelled: it has \(state.rawValue)", "\(refusal?.message ?? "")")
        }
    }

    /// A runner that only records which jobs it was asked to stop.
    actor StopRecorder: JobCancelling {
        private(set) var stopped: Set<String> = []
        /// What the recorder answers: nil, the job is being stopped; otherwise why it cannot be.
        let refusal: String?

        init(refusal: String? = nil) { self.refusal = refusal }

        func cancel(jobID id: String) async -> String? {
            stopped.insert(id)
            return refusal
        }
    }

    /// A running job whose outcome is already decided cannot be cancelled: the operator is
    /// told so (`not_cancellable`, exit 1) instead of an answer that looks like a cancel.
    @Test func aJobThatCannotBeStoppedAnyMoreIsNotCancellable() async throws {
        let world = try DaemonWorld()
        try world.fixture.drop("reviews", manifest: DaemonFixture.manifest(account: "acme"))
        let queued = try #require(await world.intake.process("reviews.jsonl"))
        _ = try await world.jobs.startNext()
        let plugins = try PluginRegistry(
            pluginDirectory: world.fixture.directory.url.appendingPathComponent("plugins"),
            stateDirectory: world.fixture.config.paths.stateDirectory, probeExecutable: URL(fileURLWithPath: "/bin/false"))
        let canceller = StopRecorder(refusal: "its worker already ended (succeeded) and the outcome is being recorded")
        let handler = DaemonControlHandler(
            ledger: world.ledger, jobs: world.jobs, plugins: plugins, spool: world.spool, canceller: canceller, version: "test")
        let root = PeerCredentials(pid: getpid(), uid: 0, gid: 0, groups: [])
        let error = await #expect(throws: ControlError.self) {
            _ = try await handler.handle(.cancel(id: queued.id), peer: root, connection: ControlConnectionID(rawValue: 1))
        }
        #expect(error?.code == .notCancellable)
        #expect(error?.message.contains("already ended (succeeded)") == true, "\(String(describing: error))")
        #expect(await canceller.stopped == [queued.id])
        #expect(await world.jobs.job(id: queued.id)?.state == .running)
    }

    /// `cancel` of a queued job races the scheduler starting it. Whichever wins, a job that
    /// started is never recorded cancelled behind its worker's back: it stays running (and
    /// admitted in the ledger) and the runner is told to stop it; a job the cancel won is
    /// never started. Repeated, since each round may go either way.
    @Test func cancellingAQueuedJobAsTheSchedulerStartsItNeverLosesTheWorker() async throws {
        let world = try DaemonWorld()
        var ids: [String] = []
        for index in 0..<16 {
            try world.fixture.drop("race\(index)", manifest: DaemonFixture.manifest(account: "acme", epsilon: 0.5), records: 100)
            ids.append(try #require(await world.intake.process("race\(index).jsonl")).id)
        }
        let plugins = try PluginRegistry(
            pluginDirectory: world.fixture.directory.url.appendingPathComponent("plugins"),
            stateDirectory: world.fixture.config.paths.stateDirectory, probeExecutable: URL(fileURLWithPath: "/bin/false"))
        let runner = StopRecorder()
        let handler = DaemonControlHandler(
            ledger: world.ledger, jobs: world.jobs, plugins: plugins, spool: world.spool, canceller: runner, version: "test")
        let root = PeerCredentials(pid: getpid(), uid: 0, gid: 0, groups: [])
        var started: Set<String> = []
        var targeted: Set<String> = []
        while let head = await world.jobs.queuedIDs.first {
            targeted.insert(head)
            let jobs = world.jobs
            async let cancel = handler.handle(.cancel(id: head), peer: root, connection: ControlConnectionID(rawValue: 1))
            async let next = jobs.startNext()
            _ = try await cancel
            if let job = try await next { started.insert(job.id) }
        }
        let stopped = await runner.stopped
        for id in ids {
            let state = await world.jobs.job(id: id)?.state
            if started.contains(id) {
                #expect(state == .running, "job \(id) was started, then recorded \(String(describing: state))")
                #expect(try world.ledger.job(id: id).state == .admitted)
                #expect(!targeted.contains(id) || stopped.contains(id), "job \(id) started and cancelled, runner not told")
            } else {
                #expect(state == .cancelled)
                #expect(try world.ledger.job(id: id).state == .cancelled)
            }
        }
    }
}
