// SPDX-License-Identifier: Apache-2.0
import Daemon
import Foundation
import Glibc
import Ledger
import Spool
import Synchronization
import Testing
import TestSupport

@Suite struct IntakeServiceTests {
    @Test func validDatasetIsAdmittedReservedAndQueued() async throws {
        let world = try DaemonWorld()
        try world.fixture.drop("reviews", manifest: DaemonFixture.manifest(account: "acme"))
        let job = try #require(await world.intake.process("reviews.jsonl"))
        #expect(job.account == "acme")
        #expect(job.dataset == "reviews.jsonl")
        #expect(job.populationSize == 180)
        #expect(job.steps == 9)
        #expect(job.state == .queued)
        #expect(await world.jobs.queuedIDs == [job.id])
        let record = try world.ledger.job(id: job.id)
        #expect(record.state == .admitted)
        let charges = try world.ledger.charges(account: "acme")
        #expect(charges.map(\.id) == job.chargeIDs)
        #expect(charges.allSatisfy { $0.state == .reserved })
        let accepted = world.fixture.config.paths.spool.appendingPathComponent("accepted/reviews.jsonl")
        #expect(FileManager.default.fileExists(atPath: accepted.path))
        let persisted = world.fixture.config.paths.stateDirectory.appendingPathComponent("jobs/\(job.id).json")
        #expect(FileManager.default.fileExists(atPath: persisted.path))
        let reopened = try JobStore(stateDirectory: world.fixture.config.paths.stateDirectory)
        let reloaded = try #require(await reopened.job(id: job.id))
        #expect(reloaded.chargeIDs == job.chargeIDs)
        #expect(reloaded.noiseMultiplier == job.noiseMultiplier)
        #expect(await reopened.queuedIDs == [job.id])
    }

    @Test func overBudgetIsRejectedAndChargesNothing() async throws {
        let world = try DaemonWorld()
        try world.fixture.drop("big", manifest: DaemonFixture.manifest(account: "poor", epsilon: 4))
        #expect(await world.intake.process("big.jsonl") == nil)
        #expect(try world.fixture.errorCode(of: "big") == "budget_exhausted")
        let message = try #require(try world.fixture.errorMessage(of: "big"))
        #expect(message.contains("poor"))
        #expect(try world.ledger.charges().isEmpty)
        #expect(try world.ledger.account(named: "poor").epsilonSpent == 0)
        #expect(await world.jobs.all().isEmpty)
    }

    @Test(arguments: [
        ("nobody", "tiny", "lora", "unknown_account"),
        ("acme", "huge", "lora", "unknown_backbone"),
        ("acme", "tiny", "magic", "unknown_strategy"),
    ])
    func unknownNamesGetTheirCode(account: String, backbone: String, strategy: String, code: String) async throws {
        let world = try DaemonWorld()
        try world.fixture.drop(
            "named", manifest: DaemonFixture.manifest(account: account, backbone: backbone, strategy: strategy))
        #expect(await world.intake.process("named.jsonl") == nil)
        #expect(try world.fixture.errorCode(of: "named") == code)
        #expect(try world.ledger.charges().isEmpty)
    }

    /// A dataset asking for a strategy whose plugin file was removed is told so, not that
    /// the name is unknown, and charges nothing.
    @Test func aWithdrawnStrategysDatasetIsToldWhy() async throws {
        let world = try DaemonWorld()
        var withdrawn: StrategyCatalog = ["lora"]
        withdrawn.withdrawnFiles = ["magic": "/etc/dptune/plugins/libmagic.so"]
        let catalog = withdrawn
        let intake = IntakeService(spool: world.spool, config: world.fixture.config, strategies: { catalog },
                                   ledger: world.ledger, jobs: world.jobs, logger: DaemonFixture.logger)
        try world.fixture.drop("gone", manifest: DaemonFixture.manifest(account: "acme", strategy: "magic"))
        #expect(await intake.process("gone.jsonl") == nil)
        #expect(try world.fixture.errorCode(of: "gone") == "unknown_strategy")
        #expect(try world.fixture.errorMessage(of: "gone")
            == "strategy \"magic\" was withdrawn: its plugin file /etc/dptune/plugins/libmagic.so no longer provides it (removed or replaced), so it takes no new job")
        #expect(try world.ledger.charges().isEmpty)
    }

    /// A dataset for an account the accounts file no longer lists is refused as closed, not
    /// unknown, before the preflight prepares its job, and charges nothing.
    @Test func aClosedAccountsDatasetIsRefusedBeforeItsPreflight() async throws {
        let world = try DaemonWorld()
        _ = try world.ledger.syncAccounts(AccountsFile(parsing: "[accounts.acme]\nepsilon = 20\ndelta = 1e-5\n"))
        let (intake, directory) = try Self.intake(world, preflight: #"touch "$(dirname "$0")/preflight-ran"; exit 1"#)
        try world.fixture.drop("late", manifest: DaemonFixture.manifest(account: "poor"))
        #expect(await intake.process("late.jsonl") == nil)
        #expect(try world.fixture.errorCode(of: "late") == "account_closed")
        #expect(try world.fixture.errorMessage(of: "late")?.contains("account poor is closed") == true)
        #expect(!FileManager.default.fileExists(atPath: directory.url.appendingPathComponent("preflight-ran").path))
        #expect(try world.ledger.charges().isEmpty)

        try world.fixture.drop("open", manifest: DaemonFixture.manifest(account: "acme"))
        #expect(await intake.process("open.jsonl") == nil)
        #expect(FileManager.default.fileExists(atPath: directory.url.appendingPathComponent("preflight-ran").path))
    }

    /// The intake reads each model's config.json once, when it starts: objective `generate`
    /// on a backbone whose config says BERT, and `classify` on one whose config says Llama,
    /// are rejected as invalid manifests and charge nothing.
    @Test(arguments: [(true, "bert", "needs a Llama-family decoder"), (false, "llama", "needs a BERT encoder")])
    func anObjectiveOnAnotherFamilyIsRejectedAndChargesNothing(generate: Bool, modelType: String, expected: String) async throws {
        let world = try DaemonWorld()
        let tiny = try #require(world.fixture.config.models["tiny"])
        try FileManager.default.createDirectory(at: tiny, withIntermediateDirectories: true)
        try Data(#"{"model_type": "\#(modelType)"}"#.utf8).write(to: tiny.appendingPathComponent("config.json"))
        let intake = IntakeService(spool: world.spool, config: world.fixture.config, strategies: { ["lora"] },
                                   ledger: world.ledger, jobs: world.jobs, logger: DaemonFixture.logger)
        try world.fixture.drop("mismatch", manifest: DaemonFixture.manifest(account: "acme", generate: generate))
        #expect(await intake.process("mismatch.jsonl") == nil)
        #expect(try world.fixture.errorCode(of: "mismatch") == "invalid_manifest")
        #expect(try world.fixture.errorMessage(of: "mismatch")?.contains(expected) == true)
        #expect(try world.ledger.charges().isEmpty)
    }

    @Test func scanTakesEverythingWaitingAndSurvivesGarbage() async throws {
        let world = try DaemonWorld()
        try world.fixture.drop("first", manifest: DaemonFixture.manifest(account: "acme"))
        let incoming = world.fixture.config.paths.spool.appendingPathComponent("incoming")
        for name in ["garbage", "empty"] {
            try Data(DaemonFixture.manifest(account: "acme").utf8)
                .write(to: incoming.appendingPathComponent("\(name).manifest.json"))
        }
        try Data("not json\n".utf8).write(to: incoming.appendingPathComponent("garbage.jsonl"))
        try Data().write(to: incoming.appendingPathComponent("empty.jsonl"))
        await world.intake.scanIncoming()
        #expect(await world.jobs.all().count == 1)
        #expect(try world.fixture.errorCode(of: "garbage") == "invalid_json")
        #expect(try world.fixture.errorCode(of: "empty") == "empty_dataset")
        #expect(try FileManager.default.contentsOfDirectory(atPath: incoming.path).isEmpty)
    }

    /// An intake of `world` whose preflight of `lora` is the shell `script`, in the folder returned.
    private static func intake(_ world: DaemonWorld, preflight script: String) throws -> (IntakeService, TemporaryDirectory) {
        let (executable, directory) = try ShortLivedChildTests.script(script)
        let preflight = JobPreflight(
            executable: executable, config: ChildConfig(original: directory.url.appendingPathComponent("dptuned.toml"), copy: nil),
            stagingDirectory: directory.url.appendingPathComponent("staging"), timeout: .seconds(120))
        let strategies = StrategyCatalog(ids: ["lora"], pluginFiles: ["lora": directory.url.appendingPathComponent("liblora.so")])
        let intake = IntakeService(spool: world.spool, config: world.fixture.config, strategies: { strategies },
                                   preflight: preflight, ledger: world.ledger, jobs: world.jobs, logger: DaemonFixture.logger)
        return (intake, directory)
    }

    /// Creates `folder/name` from raw name bytes, which a `String` path could not spell.
    private static func create(_ name: [UInt8], in folder: URL, contents: String) throws {
        let path = (Array(folder.path.utf8) + [UInt8(ascii: "/")] + name).map { CChar(bitPattern: $0) } + [0]
        let file = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        try #require(file >= 0)
        #expect(write(file, contents, contents.utf8.count) == contents.utf8.count)
        #expect(close(file) == 0)
    }

    /// The names in `folder` as bytes, which a `String` listing would alter.
    private static func rawNames(in folder: URL) -> [[UInt8]] {
        guard let directory = opendir(folder.path) else { return [] }
        defer { closedir(directory) }
        var names: [[UInt8]] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            if name != Array(".".utf8) && name != Array("..".utf8) { names.append(name) }
        }
        return names
    }

    /// A file named with the bytes `bad\xFF.jsonl` ends in rejected/ as `bad%FF.jsonl`, its
    /// bytes unchanged, beside an unsafe_path error that gives the name's bytes, and the next
    /// scan has nothing left to do. Before, the name was decoded with U+FFFD, which names no
    /// file: the rejection failed with no_such_entry and the file stayed in incoming/, tried
    /// again at every scan.
    @Test func aNameThatIsNotUTF8IsRejectedByItsBytesOnce() async throws {
        let world = try DaemonWorld()
        let spool = world.fixture.config.paths.spool
        let dataset = DaemonFixture.dataset(records: 10)
        try Self.create(Array("bad".utf8) + [0xFF] + Array(".jsonl".utf8), in: spool.appendingPathComponent("incoming"),
                        contents: dataset)
        await world.intake.scanIncoming()

        #expect(Self.rawNames(in: spool.appendingPathComponent("incoming")).isEmpty)
        let rejected = spool.appendingPathComponent("rejected")
        #expect(Set(Self.rawNames(in: rejected)) == [Array("bad%FF.jsonl".utf8), Array("bad%FF.error.json".utf8)])
        #expect(try Data(contentsOf: rejected.appendingPathComponent("bad%FF.jsonl")) == Data(dataset.utf8))
        #expect(try world.fixture.errorCode(of: "bad%FF") == "unsafe_path")
        let message = try #require(try world.fixture.errorMessage(of: "bad%FF"))
        #expect(message.contains("62 61 64 ff 2e 6a 73 6f 6e 6c"), "\(message)")
        #expect(try world.ledger.charges().isEmpty)

        await world.intake.scanIncoming()
        #expect(Self.rawNames(in: rejected).count == 2)
    }

    /// The daemon is told to stop while the first of three datasets is in intake: that one
    /// finishes (admitted, charged, queued), the other two stay in incoming/ uncharged.
    @Test func stopFinishesTheDatasetInHandAndLeavesTheRestInIncoming() async throws {
        let fixture = try DaemonFixture()
        let ledger = try fixture.openLedger()
        let spool = try SpoolDirectory(root: fixture.config.paths.spool)
        let jobs = try JobStore(stateDirectory: fixture.config.paths.stateDirectory)
        for name in ["a", "b", "c"] { try fixture.drop(name, manifest: DaemonFixture.manifest(account: "acme")) }
        // The strategy list is read at the start of each dataset's intake: the first read
        // stands in for a SIGTERM that arrives while that dataset is being processed.
        let stopper = Stopper()
        let intake = IntakeService(
            spool: spool, config: fixture.config,
            strategies: {
                stopper.stopOnce()
                return ["lora"]
            },
            ledger: ledger, jobs: jobs, logger: DaemonFixture.logger)
        stopper.intake.withLock { $0 = intake }
        await intake.scanIncoming()

        let queued = await jobs.all()
        #expect(queued.map(\.dataset) == ["a.jsonl"])
        #expect(try ledger.charges(account: "acme").count == 1)
        let incoming = try FileManager.default.contentsOfDirectory(
            atPath: fixture.config.paths.spool.appendingPathComponent("incoming").path)
        #expect(Set(incoming) == ["b.jsonl", "b.manifest.json", "c.jsonl", "c.manifest.json"])
        #expect(try spool.scan(.rejected).isEmpty)
        // A name the watcher reports later is left alone too.
        #expect(await intake.process("b.jsonl") == nil)
        #expect(FileManager.default.fileExists(
            atPath: fixture.config.paths.spool.appendingPathComponent("incoming/b.jsonl").path))
    }

    /// SIGTERM while a dataset's preflight runs (a large model loading, or a stuck plugin):
    /// the preflight is killed at once rather than waited out to its timeout, well past
    /// systemd's stop timeout; the dataset stays in incoming/, uncharged and not rejected as
    /// the plugin's failure, and the next start takes it.
    @Test func stopKillsARunningPreflightAndTheNextStartTakesTheDataset() async throws {
        let world = try DaemonWorld()
        try world.fixture.drop("reviews", manifest: DaemonFixture.manifest(account: "acme"))
        let (stopping, hung) = try Self.intake(world, preflight: #"trap '' TERM; echo $$ > "$(dirname "$0")/preflight.pid"; exec sleep 30"#)
        let pidFile = hung.url.appendingPathComponent("preflight.pid")
        let running = Task { await stopping.process("reviews.jsonl") }
        let started = try await onOwnThread {
            for _ in 0..<600 where !FileManager.default.fileExists(atPath: pidFile.path) { usleep(50_000) }
            return FileManager.default.fileExists(atPath: pidFile.path)
        }
        try #require(started, "the preflight never started")
        let stoppedAt = ContinuousClock.now
        stopping.stop()
        #expect(await running.value == nil)
        #expect(ContinuousClock.now - stoppedAt < .seconds(5))
        let pid = try #require(Int32(try String(contentsOf: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(ShortLivedChildTests.hasEnded(pid))
        let incoming = try FileManager.default.contentsOfDirectory(
            atPath: world.fixture.config.paths.spool.appendingPathComponent("incoming").path)
        #expect(Set(incoming) == ["reviews.jsonl", "reviews.manifest.json"])
        #expect(try world.spool.scan(.rejected).isEmpty)
        #expect(try world.ledger.charges().isEmpty)
        #expect(await world.jobs.all().isEmpty)

        let (restarted, answering) = try Self.intake(world, preflight: "echo '{}'")
        let job = try #require(await restarted.process("reviews.jsonl"))
        #expect(job.dataset == "reviews.jsonl")
        #expect(try world.ledger.charges(account: "acme").map(\.id) == job.chargeIDs)
        withExtendedLifetime((hung, answering)) {}
    }
}

extension IntakeServiceTests {
    /// A dataset whose preflight ran short of disk (the state disk full, as the daemon's
    /// plugin copy found it) stays in incoming/, uncharged and not rejected, and is taken
    /// once there is room, by intake's own next try: no other event about it comes. It
    /// used to be rejected for good as `preparation_failed`.
    @Test func aDatasetDeferredForTheHostIsTakenOnceTheHostHasRoom() async throws {
        let world = try DaemonWorld()
        try world.fixture.drop("reviews", manifest: DaemonFixture.manifest(account: "acme"))
        let (executable, directory) = try ShortLivedChildTests.script(#"""
            if [ -e "$(dirname "$0")/full" ]; then
                echo '{"refusal": "cannot stage a private copy: No space left on device", "shortage": true}'; exit 1
            fi
            echo '{}'
            """#)
        let full = directory.url.appendingPathComponent("full")
        #expect(FileManager.default.createFile(atPath: full.path, contents: Data()))
        let preflight = JobPreflight(
            executable: executable, config: ChildConfig(original: directory.url.appendingPathComponent("dptuned.toml"), copy: nil),
            stagingDirectory: directory.url.appendingPathComponent("staging"))
        let strategies = StrategyCatalog(ids: ["lora"], pluginFiles: ["lora": directory.url.appendingPathComponent("liblora.so")])
        let intake = IntakeService(
            spool: world.spool, config: world.fixture.config, strategies: { strategies }, preflight: preflight,
            ledger: world.ledger, jobs: world.jobs,
            retrySchedule: RetrySchedule(first: .milliseconds(100), longest: .milliseconds(200)), logger: DaemonFixture.logger)
        let (events, watcher) = AsyncStream.makeStream(of: SpoolWatcher.Event.self)
        await intake.scanIncoming()
        let following = Task { await intake.follow(events) }
        defer {
            intake.stop()
            watcher.finish()
        }

        // A few tries pass while the host is short.
        try await Task.sleep(for: .milliseconds(500))
        let incoming = world.fixture.config.paths.spool.appendingPathComponent("incoming")
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: incoming.path)) == ["reviews.jsonl", "reviews.manifest.json"])
        #expect(try world.spool.scan(.rejected).isEmpty)
        #expect(try world.ledger.charges().isEmpty)

        try FileManager.default.removeItem(at: full)
        for _ in 0..<250 where await world.jobs.all().isEmpty { try await Task.sleep(for: .milliseconds(20)) }
        let job = try #require(await world.jobs.all().first)
        #expect(job.dataset == "reviews.jsonl")
        #expect(try world.ledger.charges(account: "acme").map(\.id) == job.chargeIDs)
        #expect(try world.spool.scan(.accepted).contains("reviews.jsonl"))
        intake.stop()
        watcher.finish()
        await following.value
        withExtendedLifetime(directory) {}
    }
}

/// Stops an intake the first time it is called.
private final class Stopper: Sendable {
    let intake = Mutex<IntakeService?>(nil)
    private let fired = Mutex(false)

    func stopOnce() {
        let first = fired.withLock { fired in
            defer { fired = true }
            return !fired
        }
        if first { intake.withLock { $0 }?.stop() }
    }
}
