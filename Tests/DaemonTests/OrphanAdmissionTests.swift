// SPDX-License-Identifier: Apache-2.0
@testable import Daemon
import Foundation
import Ledger
import Records
import Spool
import Testing
import TestSupport

/// The daemon died between the ledger's admission of a dataset and the job's record: W1
/// with the dataset still in incoming/, W2 with it already in accepted/. The next start
/// admits it exactly once.
@Suite struct OrphanAdmissionTests {
    enum Window: String, CaseIterable, Sendable {
        /// Admitted in the ledger; the dataset still in incoming/.
        case beforeAccept
        /// Admitted and accepted; no job record.
        case beforeRecord
    }

    /// Admits `name` through intake, then puts the folders back as a kill in `window` left
    /// them: no job record, and for W1 the dataset and its manifest in incoming/.
    /// - Parameter told: the file whose arrival intake is told of: the dataset, or its manifest.
    private static func crash(
        admitting name: String, in world: DaemonWorld, window: Window, told: String = ".jsonl"
    ) async throws -> DaemonJob {
        let job = try #require(await world.intake.process(name + told))
        let state = world.fixture.config.paths.stateDirectory
        try FileManager.default.removeItem(at: state.appendingPathComponent("jobs/\(job.id).json"))
        if window == .beforeAccept {
            for file in ["\(name).jsonl", "\(name).manifest.json"] {
                try FileManager.default.moveItem(at: folder(.accepted, world).appendingPathComponent(file),
                                                 to: folder(.incoming, world).appendingPathComponent(file))
            }
        }
        return job
    }

    private static func folder(_ folder: SpoolDirectory.Folder, _ world: DaemonWorld) -> URL {
        world.fixture.config.paths.spool.appendingPathComponent(folder.rawValue)
    }

    private static func names(in folder: SpoolDirectory.Folder, _ world: DaemonWorld) throws -> Set<String> {
        Set(try FileManager.default.contentsOfDirectory(atPath: Self.folder(folder, world).path))
    }

    /// The daemon's start-up over `world`'s files, as `DaemonService.run` orders it:
    /// interrupted moves, reconciliation, then the intake scan with the orphans to resume.
    /// `beforeScan` runs between reconciliation and the scan.
    /// With `stopped`, intake is told to stop before its scan, as a SIGTERM during start-up.
    private static func restart(
        _ world: DaemonWorld, beforeScan: () throws -> Void = {}, stopped: Bool = false
    ) async throws -> (jobs: JobStore, ledger: LedgerStore) {
        let ledger = try world.fixture.openLedger()
        let spool = try SpoolDirectory(root: world.fixture.config.paths.spool)
        _ = try spool.completeInterruptedMoves()
        let jobs = try JobStore(stateDirectory: world.fixture.config.paths.stateDirectory)
        let reconciled = try await JobReconciliation.reconcile(
            ledger: ledger, jobs: jobs, spool: spool, adapterDirectory: world.fixture.config.adapterDirectory(job:),
            logger: DaemonFixture.logger)
        try beforeScan()
        let intake = IntakeService(
            spool: spool, config: world.fixture.config, strategies: { ["lora"] }, ledger: ledger, jobs: jobs,
            orphans: reconciled.orphans, logger: DaemonFixture.logger)
        if stopped { intake.stop() }
        await intake.scanIncoming()
        return (jobs, ledger)
    }

    @Test(arguments: Window.allCases, [".jsonl", ".manifest.json"])
    func anOrphanIsResumedUnderItsOneCharge(window: Window, told: String) async throws {
        let world = try DaemonWorld()
        try world.fixture.drop("reviews", manifest: DaemonFixture.manifest(account: "acme"))
        let admitted = try await Self.crash(admitting: "reviews", in: world, window: window, told: told)
        #expect(try world.ledger.job(id: admitted.id).spoolName == "reviews.jsonl")
        let charges = try world.ledger.charges(account: "acme")
        let spent = try world.ledger.account(named: "acme").epsilonSpent

        let (jobs, ledger) = try await Self.restart(world)
        #expect(await jobs.all().map(\.id) == [admitted.id])
        #expect(await jobs.queuedIDs == [admitted.id])
        let queued = try #require(await jobs.job(id: admitted.id))
        #expect(queued.chargeIDs == admitted.chargeIDs)
        #expect(queued.dataset == "reviews.jsonl")
        #expect(queued.datasetSHA256 == admitted.datasetSHA256)
        #expect(try ledger.charges(account: "acme") == charges)
        #expect(try ledger.account(named: "acme").epsilonSpent == spent)
        #expect(try ledger.unfinishedJobs().map(\.id) == [admitted.id])
        #expect(try ledger.job(id: admitted.id).state == .admitted)
        #expect(try ledger.auditLog(account: "acme").filter { $0.operation == "job.resume" }.map(\.jobID) == [admitted.id])
        #expect(try Self.names(in: .incoming, world).isEmpty)
        #expect(try Self.names(in: .accepted, world) == ["reviews.jsonl", "reviews.manifest.json"])
        #expect(try Self.names(in: .done, world).isEmpty)
    }

    /// The spool cannot accept an admitted dataset (its tmp/ gone here; a full disk in the
    /// field). The admission is kept, not failed: the dataset's next intake, told of either
    /// file, resumes it under its one charge, in the same run and after a restart. Failing
    /// it charged the dataset again at each later event, three times over two starts in the
    /// audit that found it.
    @Test func anAdmissionTheSpoolCouldNotAcceptIsResumedNotChargedAgain() async throws {
        let world = try DaemonWorld()
        try world.fixture.drop("reviews", manifest: DaemonFixture.manifest(account: "acme"))
        let tmp = world.fixture.config.paths.spool.appendingPathComponent("tmp")
        try FileManager.default.removeItem(at: tmp)
        try Data().write(to: tmp)
        #expect(await world.intake.process("reviews.jsonl") == nil)
        #expect(await world.intake.process("reviews.manifest.json") == nil)
        let admissions = try world.ledger.unfinishedJobs()
        #expect(admissions.count == 1)
        let admitted = try #require(admissions.first)
        #expect(admitted.state == .admitted)
        let charges = try world.ledger.charges(account: "acme")
        #expect(try Self.names(in: .incoming, world) == ["reviews.jsonl", "reviews.manifest.json"])

        // The spool holds tmp/'s descriptor, so the one put back serves a restart.
        try FileManager.default.removeItem(at: tmp)
        try FileManager.default.createDirectory(at: tmp, withIntermediateDirectories: false)
        let (jobs, ledger) = try await Self.restart(world)
        #expect(await jobs.queuedIDs == [admitted.id])
        #expect(try ledger.charges(account: "acme") == charges)
        #expect(try ledger.unfinishedJobs().map(\.id) == [admitted.id])
        #expect(try Self.names(in: .accepted, world) == ["reviews.jsonl", "reviews.manifest.json"])
    }

    /// W1, and at the next start the orphan's preflight runs short of the host (a full state
    /// disk). The dataset waits in incoming/ and the admission with it: the scan that
    /// follows must not fail it as missing, and intake's next try resumes it under its one
    /// charge once there is room.
    @Test func anOrphanWhoseDatasetIsDeferredIsResumedOnTheNextTry() async throws {
        let world = try DaemonWorld()
        try world.fixture.drop("reviews", manifest: DaemonFixture.manifest(account: "acme"))
        let admitted = try await Self.crash(admitting: "reviews", in: world, window: .beforeAccept)
        let charges = try world.ledger.charges(account: "acme")
        let (executable, directory) = try ShortLivedChildTests.script(#"""
            [ -e "$(dirname "$0")/full" ] && { echo '{"refusal": "No space left on device", "shortage": true}'; exit 1; }
            echo '{}'
            """#)
        let full = directory.url.appendingPathComponent("full")
        #expect(FileManager.default.createFile(atPath: full.path, contents: Data()))

        let ledger = try world.fixture.openLedger()
        let spool = try SpoolDirectory(root: world.fixture.config.paths.spool)
        let jobs = try JobStore(stateDirectory: world.fixture.config.paths.stateDirectory)
        let reconciled = try await JobReconciliation.reconcile(
            ledger: ledger, jobs: jobs, spool: spool, adapterDirectory: world.fixture.config.adapterDirectory(job:),
            logger: DaemonFixture.logger)
        let strategies = StrategyCatalog(ids: ["lora"], pluginFiles: ["lora": directory.url.appendingPathComponent("liblora.so")])
        let intake = IntakeService(
            spool: spool, config: world.fixture.config, strategies: { strategies },
            preflight: JobPreflight(executable: executable,
                                    config: ChildConfig(original: directory.url.appendingPathComponent("dptuned.toml"), copy: nil),
                                    stagingDirectory: directory.url.appendingPathComponent("staging")),
            ledger: ledger, jobs: jobs, orphans: reconciled.orphans,
            retrySchedule: RetrySchedule(first: .milliseconds(100), longest: .milliseconds(200)), logger: DaemonFixture.logger)
        await intake.scanIncoming()
        #expect(try ledger.job(id: admitted.id).state == .admitted)
        #expect(try Self.names(in: .incoming, world) == ["reviews.jsonl", "reviews.manifest.json"])

        let (events, watcher) = AsyncStream.makeStream(of: SpoolWatcher.Event.self)
        let following = Task { await intake.follow(events) }
        try FileManager.default.removeItem(at: full)
        for _ in 0..<250 where await jobs.queuedIDs.isEmpty { try await Task.sleep(for: .milliseconds(20)) }
        intake.stop()
        watcher.finish()
        await following.value
        #expect(await jobs.queuedIDs == [admitted.id])
        #expect(try ledger.charges(account: "acme") == charges)
        #expect(try ledger.unfinishedJobs().map(\.id) == [admitted.id])
        #expect(try Self.names(in: .accepted, world) == ["reviews.jsonl", "reviews.manifest.json"])
        withExtendedLifetime(directory) {}
    }

    /// W1, then the same name with other content: the bytes of the dataset, or a manifest
    /// that changes the plan (and so the charge).
    @Test(arguments: ["dataset", "manifest"])
    func aChangedDatasetFailsTheOrphanAndIsAdmittedAsNew(replaced: String) async throws {
        let world = try DaemonWorld()
        try world.fixture.drop("reviews", manifest: DaemonFixture.manifest(account: "acme"))
        let admitted = try await Self.crash(admitting: "reviews", in: world, window: .beforeAccept)
        let charges = try world.ledger.charges(account: "acme")
        let spent = try world.ledger.account(named: "acme").epsilonSpent
        let incoming = Self.folder(.incoming, world)
        if replaced == "dataset" {
            try Data(DaemonFixture.dataset(records: 150).utf8).write(to: incoming.appendingPathComponent("reviews.jsonl"))
        } else {
            try Data(DaemonFixture.manifest(account: "acme", epsilon: 3).utf8)
                .write(to: incoming.appendingPathComponent("reviews.manifest.json"))
        }

        let (jobs, ledger) = try await Self.restart(world)
        let orphan = try ledger.job(id: admitted.id)
        #expect(orphan.state == .failed)
        #expect(orphan.reason?.contains("differs from what was admitted") == true, "\(orphan.reason ?? "")")
        let queued = try #require(await jobs.all().first)
        #expect(await jobs.all().count == 1)
        #expect(queued.id != admitted.id)
        #expect(await jobs.queuedIDs == [queued.id])
        #expect(try ledger.unfinishedJobs().map(\.id) == [queued.id])
        // The orphan's charges stay, committed; the new job has its own.
        let now = try ledger.charges(account: "acme")
        #expect(now.filter { $0.jobID == admitted.id }.map(\.id) == charges.map(\.id))
        #expect(now.filter { $0.jobID == admitted.id }.allSatisfy { $0.state == .committed })
        #expect(now.filter { $0.jobID == queued.id }.map(\.id) == queued.chargeIDs)
        #expect(try ledger.account(named: "acme").epsilonSpent > spent)
        if replaced == "dataset" {
            #expect(queued.datasetSHA256 != admitted.datasetSHA256)
            #expect(queued.populationSize < admitted.populationSize)
        } else {
            #expect(queued.datasetSHA256 == admitted.datasetSHA256)
        }
        #expect(try Self.names(in: .incoming, world).isEmpty)
    }

    /// The dataset is gone before the restart (the orphan is failed by reconciliation), or
    /// between reconciliation and the scan (by intake, once the scan did not find it).
    @Test(arguments: Window.allCases, [false, true])
    func anOrphanWithoutItsDatasetIsFailedWithItsChargeKept(window: Window, afterReconciliation: Bool) async throws {
        let world = try DaemonWorld()
        try world.fixture.drop("reviews", manifest: DaemonFixture.manifest(account: "acme"))
        let admitted = try await Self.crash(admitting: "reviews", in: world, window: window)
        let charges = try world.ledger.charges(account: "acme")
        let spent = try world.ledger.account(named: "acme").epsilonSpent
        let remove = {
            // Reconciliation moved a dataset in accepted/ back to incoming/.
            let folder = window == .beforeAccept || afterReconciliation ? SpoolDirectory.Folder.incoming : .accepted
            for file in ["reviews.jsonl", "reviews.manifest.json"] {
                try FileManager.default.removeItem(at: Self.folder(folder, world).appendingPathComponent(file))
            }
        }
        if !afterReconciliation { try remove() }

        let (jobs, ledger) = try await Self.restart(world, beforeScan: afterReconciliation ? remove : {})
        let orphan = try ledger.job(id: admitted.id)
        #expect(orphan.state == .failed)
        #expect(orphan.reason?.contains(afterReconciliation ? "not found in incoming/" : "neither incoming/ nor accepted/") == true,
                "\(orphan.reason ?? "")")
        #expect(await jobs.all().isEmpty)
        #expect(try ledger.unfinishedJobs().isEmpty)
        #expect(try ledger.charges(account: "acme").map(\.id) == charges.map(\.id))
        #expect(try ledger.charges(account: "acme").allSatisfy { $0.state == .committed })
        #expect(try ledger.account(named: "acme").epsilonSpent == spent)
        #expect(try ledger.auditLog(account: "acme").last?.operation == "job.fail")
    }

    /// A second `train.jsonl` was accepted as `train-1.jsonl` while the first one's job was
    /// queued, and the daemon died before recording it: found by its bytes, resumed.
    @Test func anOrphanAcceptedUnderASuffixedNameIsResumed() async throws {
        let world = try DaemonWorld()
        try world.fixture.drop("train", manifest: DaemonFixture.manifest(account: "acme"))
        let first = try #require(await world.intake.process("train.jsonl"))
        try world.fixture.drop("train", manifest: DaemonFixture.manifest(account: "acme"), records: 150)
        let second = try #require(await world.intake.process("train.jsonl"))
        #expect(second.dataset == "train-1.jsonl")
        try FileManager.default.removeItem(
            at: world.fixture.config.paths.stateDirectory.appendingPathComponent("jobs/\(second.id).json"))
        let charges = try world.ledger.charges(account: "acme")

        let (jobs, ledger) = try await Self.restart(world)
        #expect(await jobs.queuedIDs == [first.id, second.id])
        #expect(await jobs.job(id: second.id)?.datasetSHA256 == second.datasetSHA256)
        #expect(try ledger.charges(account: "acme") == charges)
        #expect(Set(try ledger.unfinishedJobs().map(\.id)) == [first.id, second.id])
        #expect(try Self.names(in: .incoming, world).isEmpty)
        #expect(try Self.names(in: .done, world).isEmpty)
    }

    /// Two admissions of the same file died unrecorded (the daemon was killed twice): the
    /// dataset there now is the newer one's, which is resumed; the older is failed as
    /// superseded, its charge kept.
    @Test func ofTwoOrphansOfOneNameTheNewerIsResumed() async throws {
        let world = try DaemonWorld()
        try world.fixture.drop("reviews", manifest: DaemonFixture.manifest(account: "acme"))
        let older = try await Self.crash(admitting: "reviews", in: world, window: .beforeAccept)
        let newer = try await Self.crash(admitting: "reviews", in: world, window: .beforeAccept)
        let charges = try world.ledger.charges(account: "acme")
        #expect(Set(charges.map(\.jobID)) == [older.id, newer.id])

        let (jobs, ledger) = try await Self.restart(world)
        #expect(await jobs.queuedIDs == [newer.id])
        #expect(try ledger.job(id: newer.id).state == .admitted)
        let superseded = try ledger.job(id: older.id)
        #expect(superseded.state == .failed)
        #expect(superseded.reason?.contains("supersedes it") == true, "\(superseded.reason ?? "")")
        #expect(try ledger.charges(account: "acme").map(\.id) == charges.map(\.id))
    }

    /// A SIGTERM before the start-up scan leaves every orphan admitted, its dataset where it
    /// is: the next start resumes it, still under its one charge.
    @Test(arguments: Window.allCases)
    func anOrphanLeftByAStopIsResumedAtTheNextStart(window: Window) async throws {
        let world = try DaemonWorld()
        try world.fixture.drop("reviews", manifest: DaemonFixture.manifest(account: "acme"))
        let admitted = try await Self.crash(admitting: "reviews", in: world, window: window)
        let charges = try world.ledger.charges(account: "acme")

        let (stoppedJobs, stoppedLedger) = try await Self.restart(world, stopped: true)
        #expect(await stoppedJobs.all().isEmpty)
        #expect(try stoppedLedger.job(id: admitted.id).state == .admitted)
        #expect(try Self.names(in: .incoming, world) == ["reviews.jsonl", "reviews.manifest.json"])

        let (jobs, ledger) = try await Self.restart(world)
        #expect(await jobs.queuedIDs == [admitted.id])
        #expect(try ledger.charges(account: "acme") == charges)
    }

    /// `dptuned train --ledger` on the daemon's ledger charged a dataset of the name, bytes
    /// and plan of one waiting in `incoming/`, and was still training (or stopped before it
    /// settled) when the daemon started. That admission is the foreground run's: resumed,
    /// the daemon would train the data again under the run's one charge; failed, the run
    /// could not commit the adapter it published.
    @Test func aForegroundRunsAdmissionIsNotTheDaemonsToTake() async throws {
        let world = try DaemonWorld()
        try world.fixture.drop("reviews", manifest: DaemonFixture.manifest(account: "acme"))
        let incoming = Self.folder(.incoming, world)
        let manifest = try Manifest.parse(
            Data(contentsOf: incoming.appendingPathComponent("reviews.manifest.json")), defaults: world.fixture.config.defaults)
        let foreground = "local-0123abcd"
        let policy = try LedgerAdmissionPolicy(
            backbones: Set(world.fixture.config.models.keys), strategies: ["lora"], ledger: world.ledger,
            spoolName: "reviews.jsonl", heldOutFraction: world.fixture.config.heldOutFraction, jobID: foreground)
        _ = try DatasetValidator().validate(
            path: incoming.appendingPathComponent("reviews.jsonl").path, manifest: manifest, policy: policy)
        try #require(try world.ledger.job(id: foreground).state == .admitted)

        let (jobs, ledger) = try await Self.restart(world)
        let queued = try #require(await jobs.queuedIDs.first)
        #expect(queued != foreground)
        #expect(try ledger.job(id: foreground).state == .admitted)
        #expect(try ledger.auditLog(account: "acme").filter { $0.operation == "job.resume" }.isEmpty)
        let charges = try ledger.charges(account: "acme")
        #expect(Set(charges.map(\.jobID)) == [foreground, queued])
        try ledger.commit(job: foreground)
    }
}
