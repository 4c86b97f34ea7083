// SPDX-License-Identifier: Apache-2.0
import Control
@testable import Daemon
import Foundation
import Ledger
import Spool
import Synchronization
import Testing

@Suite struct JobSchedulerTests {
    /// A test double for the worker seam: it trains nothing, reports one step, and ends each
    /// job as the test scripted (by dataset name).
    final class ScriptedRunner: JobRunner {
        let outcomes: [String: JobOutcome]
        let started = Mutex<[String]>([])
        init(_ outcomes: [String: JobOutcome]) { self.outcomes = outcomes }

        func run(
            _ job: DaemonJob, started reportStart: @escaping @Sendable (String) async -> Void,
            progress: @escaping @Sendable (ProgressEvent) async -> Void
        ) async -> JobOutcome {
            started.withLock { $0.append(job.dataset) }
            await reportStart("0.9.\(job.dataset.count)")
            await progress(ProgressEvent(
                jobID: job.id, state: .running, step: 1, totalSteps: job.steps, loss: 0.5,
                epsilonSpent: 0, examplesPerSecond: 0))
            return outcomes[job.dataset] ?? .failed(reason: "unscripted")
        }

        func cancel(jobID id: String) async -> String? { nil }
    }

    @Test func runsFIFOAndSettlesLedgerRecordAndSpool() async throws {
        let world = try DaemonWorld()
        let (fixture, ledger, spool, jobs, intake) = (world.fixture, world.ledger, world.spool, world.jobs, world.intake)
        var queued: [DaemonJob] = []
        for name in ["one", "two", "three"] {
            try fixture.drop(name, manifest: DaemonFixture.manifest(account: "acme"))
            queued.append(try #require(await intake.process("\(name).jsonl")))
        }
        let runner = ScriptedRunner([
            "one.jsonl": .succeeded(adapterPath: "/adapters/one"),
            "two.jsonl": .failed(reason: "out of memory"),
            "three.jsonl": .cancelled(reason: "operator"),
        ])
        // Each job's worker left a checkpoint, as one stopped mid-run does.
        let checkpoints = fixture.directory.url.appendingPathComponent("checkpoints")
        try FileManager.default.createDirectory(at: checkpoints, withIntermediateDirectories: true)
        for job in queued {
            #expect(FileManager.default.createFile(atPath: checkpoints.appendingPathComponent(job.id).path, contents: Data("θ".utf8)))
        }
        let scheduler = JobScheduler(
            jobs: jobs, ledger: ledger, spool: spool, runner: runner, workers: 1,
            scratchFiles: { [checkpoints.appendingPathComponent($0)] }, logger: DaemonFixture.logger)
        let loop = Task { await scheduler.run() }
        defer { loop.cancel() }
        for _ in 0..<200 where await !jobs.all().allSatisfy(\.state.isFinal) {
            try await Task.sleep(for: .milliseconds(20))
        }

        #expect(runner.started.withLock { $0 } == ["one.jsonl", "two.jsonl", "three.jsonl"])
        #expect(await jobs.job(id: queued[0].id)?.state == .succeeded)
        #expect(await jobs.job(id: queued[0].id)?.adapterPath == "/adapters/one")
        #expect(await jobs.job(id: queued[0].id)?.step == 1)
        // The version the runner reported at the start stays on the record, across a restart too.
        #expect(await jobs.job(id: queued[0].id)?.summary.strategyVersion == "0.9.9")
        let reopened = try JobStore(stateDirectory: fixture.config.paths.stateDirectory)
        #expect(await reopened.job(id: queued[2].id)?.strategyVersion == "0.9.11")
        #expect(await jobs.job(id: queued[1].id)?.reason == "out of memory")
        #expect(try queued.map { try ledger.job(id: $0.id).state } == [.succeeded, .failed, .cancelled])
        #expect(try ledger.charges(account: "acme").allSatisfy { $0.state == .committed })
        #expect(try ledger.charges(account: "acme").count == 3)
        let done = try FileManager.default.contentsOfDirectory(
            atPath: fixture.config.paths.spool.appendingPathComponent("done").path)
        #expect(Set(done).isSuperset(of: ["one.result.json", "two.result.json", "three.result.json"]))
        #expect(try spool.scan(.accepted).isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: checkpoints.path).isEmpty, "a settled job's checkpoint stays")
    }

    /// A dataset name used again (the same file submitted twice, say) ends in `done/` under
    /// a suffixed name; the job says where, since the stress audit found results only by
    /// opening every `NAME*.result.json` and matching its job id.
    @Test func aJobSaysWhereItsResultIs() async throws {
        let world = try DaemonWorld()
        let runner = ScriptedRunner(["reviews.jsonl": .failed(reason: "scripted")])
        let scheduler = JobScheduler(
            jobs: world.jobs, ledger: world.ledger, spool: world.spool, runner: runner, workers: 1,
            logger: DaemonFixture.logger)
        let loop = Task { await scheduler.run() }
        defer { loop.cancel() }
        var ids: [String] = []
        for _ in 0..<2 {
            try world.fixture.drop("reviews", manifest: DaemonFixture.manifest(account: "acme"))
            let queued = try #require(await world.intake.process("reviews.jsonl"))
            ids.append(queued.id)
            scheduler.wake()
            for _ in 0..<250 where await world.jobs.job(id: queued.id)?.state.isFinal != true {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        var files: [String?] = []
        for id in ids { files.append(await world.jobs.job(id: id)?.summary.resultFile) }
        #expect(files == ["done/reviews.result.json", "done/reviews-1.result.json"])
        for (id, file) in zip(ids, files) {
            let url = world.fixture.config.paths.spool.appendingPathComponent(try #require(file))
            let result = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
            #expect(result?["job_id"] as? String == id)
        }
        let reopened = try JobStore(stateDirectory: world.fixture.config.paths.stateDirectory)
        #expect(await reopened.job(id: ids[1])?.resultFile == "done/reviews-1.result.json")
    }

    /// A job whose record cannot be written when it ends (state/ full in the field; its
    /// folder swapped for a file here) is settled once it can be: the ledger committed once,
    /// the result filed once, the record final. It used to stay "running" until a restart,
    /// and `dptunectl watch` never ended.
    @Test func aJobThatCannotBeSettledIsSettledWhenItCan() async throws {
        let world = try DaemonWorld()
        try world.fixture.drop("reviews", manifest: DaemonFixture.manifest(account: "acme"))
        let queued = try #require(await world.intake.process("reviews.jsonl"))
        let records = UnwritableRecords(world)
        let runner = ShortHostRunner(shortRuns: 0, beforeSuccess: records.refuse)
        let scheduler = JobScheduler(
            jobs: world.jobs, ledger: world.ledger, spool: world.spool, runner: runner, workers: 1,
            logger: DaemonFixture.logger)
        let loop = Task { await scheduler.run() }
        defer { loop.cancel() }
        let done = world.fixture.config.paths.spool.appendingPathComponent("done/reviews.result.json")
        for _ in 0..<250 where !FileManager.default.fileExists(atPath: done.path) { try await Task.sleep(for: .milliseconds(20)) }
        #expect(FileManager.default.fileExists(atPath: done.path))
        #expect(try world.ledger.job(id: queued.id).state == .succeeded)
        #expect(await world.jobs.job(id: queued.id)?.state == .running)

        try records.restore()
        for _ in 0..<250 where await world.jobs.job(id: queued.id)?.state != .succeeded {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(await world.jobs.job(id: queued.id)?.state == .succeeded)
        #expect(await world.jobs.job(id: queued.id)?.adapterPath == "/adapters/\(queued.id)")
        #expect(try world.ledger.charges(account: "acme").allSatisfy { $0.state == .committed })
        let reopened = try JobStore(stateDirectory: world.fixture.config.paths.stateDirectory)
        #expect(await reopened.job(id: queued.id)?.state == .succeeded)
    }

    /// The job records' folder swapped for a file, as a full state disk refuses a record,
    /// and put back.
    struct UnwritableRecords: Sendable {
        let records: URL
        let aside: URL

        init(_ world: DaemonWorld) {
            records = world.fixture.config.paths.stateDirectory.appendingPathComponent("jobs")
            aside = world.fixture.config.paths.stateDirectory.appendingPathComponent("jobs.aside")
        }

        @Sendable func refuse() {
            _ = rename(records.path, aside.path)
            _ = FileManager.default.createFile(atPath: records.path, contents: Data())
        }

        func restore() throws {
            try FileManager.default.removeItem(at: records)
            #expect(rename(aside.path, records.path) == 0)
        }
    }

    /// A test double whose first `shortRuns` runs find the host short (a full disk); the
    /// next succeeds after `beforeSuccess` ran.
    final class ShortHostRunner: JobRunner {
        let shortRuns: Int
        let beforeSuccess: @Sendable () -> Void
        let runs = Mutex<[String]>([])
        init(shortRuns: Int, beforeSuccess: @escaping @Sendable () -> Void = {}) {
            self.shortRuns = shortRuns
            self.beforeSuccess = beforeSuccess
        }

        func run(
            _ job: DaemonJob, started _: @escaping @Sendable (String) async -> Void,
            progress _: @escaping @Sendable (ProgressEvent) async -> Void
        ) async -> JobOutcome {
            let count = runs.withLock { runs in
                runs.append(job.id)
                return runs.count
            }
            if count <= shortRuns { return .postponed(reason: "No space left on device") }
            beforeSuccess()
            return .succeeded(adapterPath: "/adapters/\(job.id)")
        }

        func cancel(jobID id: String) async -> String? { nil }
    }

    /// A job whose worker found the host short (its plugin copy or checkpoint could not be
    /// written) is neither failed nor settled: it runs again under its one charge, after
    /// waits of the retry schedule, and succeeds once the host has room. It used to fail
    /// before its first step with its charge spent.
    @Test func aJobPostponedForTheHostRunsAgainUnderItsCharge() async throws {
        let world = try DaemonWorld()
        try world.fixture.drop("reviews", manifest: DaemonFixture.manifest(account: "acme"))
        let queued = try #require(await world.intake.process("reviews.jsonl"))
        let checkpoint = world.fixture.directory.url.appendingPathComponent("\(queued.id).checkpoint")
        #expect(FileManager.default.createFile(atPath: checkpoint.path, contents: Data("θ".utf8)))
        let resumable = Mutex(false)
        let runner = ShortHostRunner(shortRuns: 2) {
            resumable.withLock { $0 = FileManager.default.fileExists(atPath: checkpoint.path) }
        }
        let scheduler = JobScheduler(
            jobs: world.jobs, ledger: world.ledger, spool: world.spool, runner: runner, workers: 1,
            retrySchedule: RetrySchedule(first: .milliseconds(50), longest: .milliseconds(100)),
            scratchFiles: { _ in [checkpoint] }, logger: DaemonFixture.logger)
        let loop = Task { await scheduler.run() }
        defer { loop.cancel() }
        for _ in 0..<250 where await world.jobs.job(id: queued.id)?.state != .succeeded {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(runner.runs.withLock { $0 } == [queued.id, queued.id, queued.id])
        #expect(resumable.withLock { $0 }, "a postponement removed the checkpoint the job resumes from")
        #expect(!FileManager.default.fileExists(atPath: checkpoint.path))
        #expect(await world.jobs.job(id: queued.id)?.state == .succeeded)
        #expect(try world.ledger.job(id: queued.id).state == .succeeded)
        let charges = try world.ledger.charges(account: "acme")
        #expect(charges.map(\.id) == queued.chargeIDs)
        #expect(charges.allSatisfy { $0.state == .committed })
        let result = try Data(contentsOf: world.fixture.config.paths.spool.appendingPathComponent("done/reviews.result.json"))
        #expect(String(decoding: result, as: UTF8.self).contains(#""state" : "succeeded""#))
    }

    /// A job waiting out a postponement is cancelled at once, not after its wait and another
    /// start; one whose worker ended is not: the cancel is refused, and its outcome stands.
    @Test func aCancelStopsAPostponedJobAndIsRefusedOnceTheOutcomeIsDecided() async throws {
        let world = try DaemonWorld()
        try world.fixture.drop("reviews", manifest: DaemonFixture.manifest(account: "acme"))
        let queued = try #require(await world.intake.process("reviews.jsonl"))
        // The second job's record cannot be written once it ends, as on a full state disk:
        // it stays in settling.
        let records = UnwritableRecords(world)
        let runner = ShortHostRunner(shortRuns: 1, beforeSuccess: records.refuse)
        let scheduler = JobScheduler(
            jobs: world.jobs, ledger: world.ledger, spool: world.spool, runner: runner, workers: 1,
            retrySchedule: RetrySchedule(first: .seconds(3), longest: .seconds(3)), logger: DaemonFixture.logger)
        let loop = Task { await scheduler.run() }
        defer { loop.cancel() }
        for _ in 0..<250 where runner.runs.withLock({ $0.isEmpty }) { try await Task.sleep(for: .milliseconds(20)) }
        try await Task.sleep(for: .milliseconds(100))
        let waiting = await world.jobs.job(id: queued.id)?.reason
        #expect(waiting?.hasPrefix("waiting for room on the host, next try in 3.0 s: No space left") == true, "\(String(describing: waiting))")
        let cancelledAt = ContinuousClock.now
        #expect(await scheduler.cancel(jobID: queued.id) == nil)
        for _ in 0..<250 where await world.jobs.job(id: queued.id)?.state != .cancelled {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(ContinuousClock.now - cancelledAt < .milliseconds(1500), "the cancel waited for the postponement's 3 s")
        #expect(await world.jobs.job(id: queued.id)?.state == .cancelled)
        #expect(try world.ledger.job(id: queued.id).state == .cancelled)
        #expect(runner.runs.withLock { $0 } == [queued.id])

        try world.fixture.drop("second", manifest: DaemonFixture.manifest(account: "acme"))
        let second = try #require(await world.intake.process("second.jsonl"))
        scheduler.wake()
        for _ in 0..<250 where (try? world.ledger.job(id: second.id).state) != .succeeded {
            try await Task.sleep(for: .milliseconds(20))
        }
        let refusal = await scheduler.cancel(jobID: second.id)
        #expect(refusal?.contains("already ended (succeeded)") == true, "\(String(describing: refusal))")
        try records.restore()
        for _ in 0..<500 where await world.jobs.job(id: second.id)?.state != .succeeded {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(await world.jobs.job(id: second.id)?.state == .succeeded)
    }

    /// A test double that holds each job until the daemon's shutdown interrupts it.
    actor HeldRunner: JobRunner {
        nonisolated let started: AsyncStream<String>
        private let startedContinuation: AsyncStream<String>.Continuation
        private var held: [CheckedContinuation<Void, Never>] = []
        private var interrupting = false

        init() { (started, startedContinuation) = AsyncStream.makeStream(of: String.self) }

        func run(
            _ job: DaemonJob, started _: @escaping @Sendable (String) async -> Void,
            progress: @escaping @Sendable (ProgressEvent) async -> Void
        ) async -> JobOutcome {
            startedContinuation.yield(job.dataset)
            if !interrupting { await withCheckedContinuation { held.append($0) } }
            return .interrupted(reason: "the daemon stopped")
        }

        func cancel(jobID id: String) async -> String? { nil }

        func interruptAll() async {
            interrupting = true
            for job in held { job.resume() }
            held = []
        }
    }

    /// A shutdown starts nothing more and settles nothing it interrupted: the job stays
    /// running in its record and admitted in the ledger, for the next start to resume.
    @Test func drainLeavesTheInterruptedJobAdmittedAndStartsNoOther() async throws {
        let world = try DaemonWorld()
        var queued: [DaemonJob] = []
        for name in ["first", "second"] {
            try world.fixture.drop(name, manifest: DaemonFixture.manifest(account: "acme"))
            queued.append(try #require(await world.intake.process("\(name).jsonl")))
        }
        let runner = HeldRunner()
        let scheduler = JobScheduler(
            jobs: world.jobs, ledger: world.ledger, spool: world.spool, runner: runner, workers: 1,
            logger: DaemonFixture.logger)
        let loop = Task { await scheduler.run() }
        defer { loop.cancel() }
        var started = runner.started.makeAsyncIterator()
        #expect(await started.next() == "first.jsonl")

        await scheduler.drain()
        #expect(await world.jobs.job(id: queued[0].id)?.state == .running)
        #expect(try world.ledger.job(id: queued[0].id).state == .admitted)
        #expect(await world.jobs.job(id: queued[1].id)?.state == .queued)
        #expect(try world.ledger.charges(account: "acme").allSatisfy { $0.state == .reserved })
        #expect(Set(try world.spool.scan(.accepted)).isSuperset(of: ["first.jsonl", "second.jsonl"]))
    }
}
