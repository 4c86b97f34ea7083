// SPDX-License-Identifier: Apache-2.0
import Control
import Daemon
import Foundation
import Glibc
import Testing
import TestSupport

/// The main job end to end: a real `dptuned` on temporary directories trains with the real
/// MiniLM and the bundled `dp-forward` plugin in `dptuned worker` processes, and is
/// watched and steered with the built `dptunectl`.
@Suite(.serialized, .disabled(if: SharedFixtures.mayBeSkipped, Comment(rawValue: SharedFixtures.skipMessage)))
struct WorkerEndToEndTests {
    @Test func droppedDatasetEndsPublishedAndCharged() async throws {
        let world = try TrainingWorld()
        try await world.start()
        defer { world.stop() }
        try world.drop("reviews", records: 120, epochs: 2, batch: 16)
        let id = try await world.jobID(of: "reviews")
        // Watch from the start: the stream shows steps, then the final job.
        let watch = try await onOwnThread { try world.ctl(["watch", id]) }
        #expect(watch.status == 0, "watch: \(watch.standardError)\nstderr: \(world.output.text)")
        let events = watch.standardOutput.split(separator: "\n").compactMap(TrainingWorld.object)
        #expect(events.contains { ($0["step"] as? Int ?? 0) >= 1 && $0["state"] as? String == "running" })
        #expect(events.last?["state"] as? String == "succeeded")

        let job = try await world.job(id)
        #expect(job["state"] as? String == "succeeded")
        #expect((job["step"] as? Int ?? 0) == (job["total_steps"] as? Int ?? -1))
        let adapterPath = try #require(job["adapter_path"] as? String)
        #expect(adapterPath == world.root.appendingPathComponent("state/adapters/\(id)").path)
        for file in ["adapter_model.safetensors", "adapter_config.json", "model_card.json"] {
            #expect(FileManager.default.fileExists(atPath: adapterPath + "/" + file), "missing \(file)")
        }
        let card = try #require(TrainingWorld.object(Data(contentsOf: URL(fileURLWithPath: adapterPath + "/model_card.json"))))
        #expect(card["job_id"] as? String == id)

        let result = try #require(TrainingWorld.object(Data(contentsOf: world.spool("done/reviews.result.json"))))
        #expect(result["state"] as? String == "succeeded")
        #expect(result["adapter_path"] as? String == adapterPath)
        // The final ε and accuracy are the card's (DESIGN §3.1), not the plan's target.
        let guarantee = try #require(card["privacy"] as? [String: Any])
        #expect(result["epsilon"] as? Double == guarantee["epsilon"] as? Double)
        #expect(result["target_epsilon"] as? Double == guarantee["target_epsilon"] as? Double)
        let evaluation = try #require(card["evaluation"] as? [String: Any])
        #expect(result["accuracy"] as? [String: Double] == evaluation["accuracy"] as? [String: Double])
        #expect(!FileManager.default.fileExists(atPath: world.spool("accepted/reviews.jsonl").path))

        let charges = try await world.charges(of: id)
        #expect(charges.count == 1)
        #expect(charges.allSatisfy { $0["state"] as? String == "committed" })
        // The job no longer holds its plugin version.
        let plugins = try await onOwnThread { try world.ctl(["plugins"]) }
        #expect(plugins.standardOutput.contains("dp-forward"))
        #expect(!plugins.standardOutput.contains(id))
    }

    /// What only the plugin can refuse (here `dp-forward`'s `layer` beyond MiniLM's six) is
    /// found by the preflight before admission: the dataset is rejected with the plugin's
    /// reason, kept with its manifest, and nothing is charged.
    @Test func aJobThePluginRefusesIsRejectedBeforeItIsCharged() async throws {
        let world = try TrainingWorld()
        try await world.start()
        defer { world.stop() }
        try world.drop("deep", records: 40, epochs: 1, batch: 8, strategyOptions: #"{"layer": 9}"#)
        let errorFile = world.spool("rejected/deep.error.json")
        let rejected = try await onOwnThread { () -> Bool in
            for _ in 0..<600 where !FileManager.default.fileExists(atPath: errorFile.path) { usleep(50_000) }
            return FileManager.default.fileExists(atPath: errorFile.path)
        }
        try #require(rejected, "not rejected; stderr: \(world.output.text)")
        let error = try #require(TrainingWorld.object(Data(contentsOf: errorFile)))
        #expect(error["code"] as? String == "preparation_failed")
        #expect((error["message"] as? String)?.contains("layer must be -1 or in 0...6; found 9") == true, "\(error)")
        for file in ["deep.jsonl", "deep.manifest.json"] {
            #expect(FileManager.default.fileExists(atPath: world.spool("rejected/\(file)").path))
        }
        let ledger = try await onOwnThread { try world.ctl(["ledger", "--account", "lab"]) }
        let report = try #require(TrainingWorld.object(ledger.standardOutput), "ledger: \(ledger.standardError)")
        #expect((report["charges"] as? [[String: Any]])?.isEmpty == true, "\(report)")
    }

    /// A job trains what was admitted and charged, also when the daemon restarts under an
    /// edited config before the job starts: the record keeps the manifest as admitted
    /// (defaults filled in) and the held-out fraction, so the edit (here `held_out_fraction`
    /// 0.1 → 0.5: another N, q and σ) changes nothing for it.
    @Test func aJobTrainsWhatWasAdmittedWhenTheConfigChangesAfterAdmission() async throws {
        let world = try TrainingWorld(plugin: "LoRA", strategy: "lora")
        try await world.start()
        defer { world.stop() }
        let (first, id) = try await world.queueBehindALongJobAndStop("edited")
        let config = try String(contentsOf: world.configFile, encoding: .utf8)
        try config.replacingOccurrences(of: "[defaults]\n", with: "[defaults]\nheld_out_fraction = 0.5\n")
            .write(to: world.configFile, atomically: true, encoding: .utf8)

        try await world.start()
        let cancel = try await onOwnThread { try world.ctl(["cancel", first]) }
        #expect(cancel.status == 0, "cancel: \(cancel.standardError)")
        let ended = try await world.waitUntilEnded(id)
        #expect(ended["state"] as? String == "succeeded", "job: \(ended)\nstderr: \(world.output.text)")
        let record = try #require(TrainingWorld.object(Data(contentsOf: world.root.appendingPathComponent("state/jobs/\(id).json"))))
        let admittedN = try #require((record["population_size"] ?? record["populationSize"]) as? Int, "\(record)")
        #expect(admittedN == 36)
        let privacy = try #require(try world.modelCard(of: id)["privacy"] as? [String: Any])
        #expect(privacy["population_size"] as? Int == admittedN)
        #expect(try await world.charges(of: id).count == 1)
    }

    /// The daemon's children read the config it started with (a copy in its state
    /// directory), not the file, which may be edited or broken while it runs: here the file
    /// no longer parses, and a dataset dropped afterwards is still prepared, admitted and
    /// trained. Before, its preflight and its worker failed on the file, the charge standing.
    @Test func aConfigFileBrokenWhileTheDaemonRunsFailsNoJob() async throws {
        let world = try TrainingWorld()
        try await world.start()
        defer { world.stop() }
        let started = try String(contentsOf: world.configFile, encoding: .utf8)
        let copy = world.root.appendingPathComponent("state/running-config.toml")
        #expect(try String(contentsOf: copy, encoding: .utf8) == started)
        try "[paths\nthis is not TOML\n".write(to: world.configFile, atomically: true, encoding: .utf8)
        try world.drop("after-edit", records: 40, epochs: 1, batch: 8)
        let id = try await world.jobID(of: "after-edit")

        let ended = try await world.waitUntilEnded(id)
        #expect(ended["state"] as? String == "succeeded", "job: \(ended)\nstderr: \(world.output.text)")
        #expect(try await world.charges(of: id).count == 1)
    }

    /// A job queued by a daemon from before job records kept the admitted manifest still
    /// trains after an upgrade: its worker reads the spool's manifest under the config, as
    /// every worker did then, and plans what was charged.
    @Test func aJobRecordWithoutTheAdmittedManifestStillTrains() async throws {
        let world = try TrainingWorld(plugin: "LoRA", strategy: "lora")
        try await world.start()
        defer { world.stop() }
        let (first, id) = try await world.queueBehindALongJobAndStop("older")

        let file = world.root.appendingPathComponent("state/jobs/\(id).json")
        var record = try #require(TrainingWorld.object(Data(contentsOf: file)))
        #expect(record["admittedManifest"] != nil)
        for key in ["admittedManifest", "heldOutFraction", "labelShare"] { record[key] = nil }
        try JSONSerialization.data(withJSONObject: record).write(to: file)

        try await world.start()
        let cancel = try await onOwnThread { try world.ctl(["cancel", first]) }
        #expect(cancel.status == 0, "cancel: \(cancel.standardError)")
        let ended = try await world.waitUntilEnded(id)
        #expect(ended["state"] as? String == "succeeded", "job: \(ended)\nstderr: \(world.output.text)")
        let privacy = try #require(try world.modelCard(of: id)["privacy"] as? [String: Any])
        #expect(privacy["population_size"] as? Int == record["populationSize"] as? Int)
        #expect(try await world.charges(of: id).count == 1)
    }

    @Test func cancelStopsARunningJobAndKeepsItsCharge() async throws {
        let world = try TrainingWorld()
        try await world.start()
        defer { world.stop() }
        let id = try await world.startLongJob("long")
        // While it runs, the job holds the plugin version it started with.
        let plugins = try await onOwnThread { try world.ctl(["plugins"]) }
        #expect(plugins.standardOutput.contains(id), "plugins: \(plugins.standardOutput)")

        let cancel = try await onOwnThread { try world.ctl(["cancel", id]) }
        #expect(cancel.status == 0, "cancel: \(cancel.standardError)")
        let ended = try await world.waitUntilEnded(id)
        #expect(ended["state"] as? String == "cancelled", "job: \(ended)\nstderr: \(world.output.text)")
        #expect((ended["step"] as? Int ?? 0) < (ended["total_steps"] as? Int ?? 0))
        let charges = try await world.charges(of: id)
        #expect(charges.count == 1)
        #expect(charges.allSatisfy { ($0["epsilon"] as? Double ?? 0) > 0 && $0["state"] as? String == "committed" })
        let result = try #require(TrainingWorld.object(Data(contentsOf: world.spool("done/long.result.json"))))
        #expect(result["state"] as? String == "cancelled")
        #expect(try world.workerProcesses(of: id).isEmpty)
    }

    @Test func killedWorkerFailsTheJobNotTheDaemon() async throws {
        let world = try TrainingWorld()
        try await world.start()
        defer { world.stop() }
        let id = try await world.startLongJob("doomed")
        let workers = try world.workerProcesses(of: id)
        try #require(workers.count == 1, "worker processes: \(workers)")
        #expect(kill(workers[0], SIGKILL) == 0)

        let ended = try await world.waitUntilEnded(id)
        #expect(ended["state"] as? String == "failed")
        let reason = ended["reason"] as? String ?? ""
        #expect(reason.contains("signal 9"), "reason: \(reason)")
        let status = try await onOwnThread { try world.ctl(["status"]) }
        #expect(status.status == 0, "status: \(status.standardError)")
        #expect(world.daemon?.isRunning == true)
        let charges = try await world.charges(of: id)
        #expect(charges.count == 1)
        #expect(charges.allSatisfy { $0["state"] as? String == "committed" })
    }

    @Test func killedDaemonResumesTheJobAfterRestartWithOneCharge() async throws {
        let world = try TrainingWorld()
        try await world.start()
        defer { world.stop() }
        let id = try await world.startLongJob("interrupted")
        let firstWorker = try world.workerProcesses(of: id)
        let daemon = try #require(world.daemon)
        kill(daemon.processIdentifier, SIGKILL)
        try await onOwnThread { daemon.waitUntilExit() }
        // Its worker sees its lifeline close and goes too, so no stale worker trains on.
        let orphansGone = try await onOwnThread {
            for _ in 0..<100 where firstWorker.contains(where: TrainingWorld.isAlive) { usleep(50_000) }
            return !firstWorker.contains(where: TrainingWorld.isAlive)
        }
        #expect(orphansGone, "worker \(firstWorker) outlived its daemon")

        try await world.start()
        let ended = try await world.waitUntilEnded(id)
        #expect(ended["state"] as? String == "succeeded", "job: \(ended)\nstderr: \(world.output.text)")
        #expect(world.output.text.contains("resumed after restart"))
        let charges = try await world.charges(of: id)
        #expect(charges.count == 1)
        #expect(charges.allSatisfy { $0["state"] as? String == "committed" })
        let result = try #require(TrainingWorld.object(Data(contentsOf: world.spool("done/interrupted.result.json"))))
        #expect(result["state"] as? String == "succeeded")
    }

    /// `systemctl stop` (SIGTERM to the daemon alone, `KillMode=mixed`): the daemon stops its
    /// worker, leaves the job admitted rather than failed or cancelled, and exits 0 with no
    /// worker left; the next start resumes the job under its one charge.
    @Test func stoppedDaemonLeavesNoWorkerAndResumesTheJobWithOneCharge() async throws {
        let world = try TrainingWorld()
        try await world.start()
        defer { world.stop() }
        let id = try await world.startLongJob("stopped")
        let firstWorker = try world.workerProcesses(of: id)
        try #require(firstWorker.count == 1, "worker processes: \(firstWorker)")
        let daemon = try #require(world.daemon)
        daemon.terminate()
        try await onOwnThread { daemon.waitUntilExit() }
        #expect(daemon.terminationReason == .exit)
        #expect(daemon.terminationStatus == 0, "stderr: \(world.output.text)")
        // The daemon waited for its worker: none is left to be killed by systemd.
        #expect(!firstWorker.contains(where: TrainingWorld.isAlive), "worker \(firstWorker) outlived its daemon")
        let record = try #require(TrainingWorld.object(Data(contentsOf: world.root.appendingPathComponent("state/jobs/\(id).json"))))
        #expect(record["state"] as? String == "running", "record: \(record)")
        #expect(world.output.text(containing: "job interrupted").contains("job interrupted"))

        try await world.start()
        let ended = try await world.waitUntilEnded(id)
        #expect(ended["state"] as? String == "succeeded", "job: \(ended)\nstderr: \(world.output.text)")
        #expect(world.output.text.contains("resumed after restart"))
        let charges = try await world.charges(of: id)
        #expect(charges.count == 1)
        #expect(charges.allSatisfy { $0["state"] as? String == "committed" })
    }
}

/// A daemon's world for training: MiniLM from `shared/`, one built strategy plugin
/// (`dp-forward` unless told), one account, and the daemon process with its stderr.
final class TrainingWorld: @unchecked Sendable {
    /// A job that is still in its steps a few seconds after its first one (batches of one
    /// record over many epochs); it is cancelled or killed long before it would end.
    static let longRecords = 100
    static let longEpochs = 300

    let directory: TemporaryDirectory
    let root: URL
    let configFile: URL
    let socket: String
    /// The strategy id the manifests name, and the plugin library providing it.
    let strategy: String
    let pluginFile: URL
    let output = DptunedProcessTests.Output()
    private(set) var daemon: Process?

    /// - Parameters:
    ///   - plugin: the built library installed as `plugins/lib<plugin>.so`.
    ///   - strategy: the strategy id it provides.
    init(plugin: String = "DPForward", strategy: String = "dp-forward") throws {
        self.strategy = strategy
        directory = try TemporaryDirectory(prefix: "dptune-worker")
        root = directory.url
        _ = try directory.write("accounts.toml", """
            [accounts.lab]
            epsilon = 100
            delta = 1e-5
            """)
        let plugins = root.appendingPathComponent("plugins")
        try FileManager.default.createDirectory(at: plugins, withIntermediateDirectories: true)
        pluginFile = plugins.appendingPathComponent("lib\(plugin).so")
        try FileManager.default.copyItem(at: BuildProducts.library(plugin), to: pluginFile)
        configFile = URL(fileURLWithPath: try directory.write("dptuned.toml", """
            [paths]
            state = "state"
            spool = "spool"
            plugins = "plugins"
            accounts = "accounts.toml"

            [control]
            socket = "run/control.sock"
            request_timeout_seconds = 5

            [scheduler]
            threads_per_worker = 1
            cancel_grace_seconds = 5

            [defaults]
            backbone = "minilm-l6"
            strategy = "\(strategy)"

            [defaults.privacy]
            accountant = "rdp"

            [models]
            minilm-l6 = "\(SharedFixtures.url("models/minilm-l6").path)"
            """))
        socket = root.appendingPathComponent("run/control.sock").path
    }

    /// Starts `dptuned --config FILE` and waits for `READY=1`.
    func start() async throws {
        let sink = try DptunedProcessTests.NotifySink()
        let process = Process()
        process.executableURL = try ProductExecutable("dptuned").url
        process.arguments = ["--config", configFile.path]
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = sink.path
        for key in ["JOURNAL_STREAM", "LISTEN_FDS", "WATCHDOG_USEC"] { environment.removeValue(forKey: key) }
        process.environment = environment
        let errors = Pipe()
        process.standardError = errors
        let output = output
        errors.fileHandleForReading.readabilityHandler = { handle in output.append(handle.availableData) }
        try process.run()
        daemon = process
        let ready = try await onOwnThread { DptunedProcessTests.await("READY=1", from: sink) }
        try #require(ready != nil, "no READY=1; stderr: \(output.text)")
    }

    /// Stops the daemon (SIGTERM) if it still runs.
    func stop() {
        guard let daemon, daemon.isRunning else { return }
        daemon.terminate()
        daemon.waitUntilExit()
    }

    /// Drops `NAME.jsonl` (the first `records` sentiment records of `shared/`) and its
    /// manifest into `incoming/` the way a data owner should: through `tmp/`, then rename.
    func drop(_ name: String, records: Int, epochs: Int, batch: Int, strategyOptions: String = "{}") throws {
        let lines = try String(contentsOf: SharedFixtures.url("data/sentiment/train.jsonl"), encoding: .utf8)
            .split(separator: "\n").prefix(records)
        let manifest = """
            {"account": "lab", "backbone": "minilm-l6", "strategy": "\(strategy)",
             "labels": {"sentiment": ["negative", "positive"]},
             "privacy": {"epsilon": 4, "delta": 1e-5, "accountant": "rdp"},
             "train": {"epochs": \(epochs), "expected_batch": \(batch), "max_len": 32, "lr": 0.01},
             "strategy_options": \(strategyOptions)}
            """
        for (file, text) in [("\(name).manifest.json", manifest), ("\(name).jsonl", lines.joined(separator: "\n") + "\n")] {
            let staged = spool("tmp/\(file)")
            try Data(text.utf8).write(to: staged)
            try #require(rename(staged.path, spool("incoming/\(file)").path) == 0)
        }
    }

    func spool(_ relative: String) -> URL { root.appendingPathComponent("spool/\(relative)") }

    /// Replaces the installed plugin file with another build the way operators should: a
    /// copy beside it, renamed over it.
    func replacePlugin(with library: String) throws {
        let staged = root.appendingPathComponent("\(library).staged")
        try FileManager.default.copyItem(at: BuildProducts.library(library), to: staged)
        try #require(rename(staged.path, pluginFile.path) == 0)
    }

    /// The `plugins` rows once `done` holds for them (polled: the registry has no event to
    /// wait for), or nil after ten seconds.
    func plugins(until done: @escaping @Sendable ([PluginSummary]) -> Bool) async throws -> [PluginSummary]? {
        let socket = socket
        return try await onOwnThread {
            for _ in 0..<200 {
                if case .plugins(let rows) = try ControlClient(socketPath: socket, timeout: .seconds(10)).send(.plugins),
                   done(rows) {
                    return rows
                }
                usleep(50_000)
            }
            return nil
        }
    }

    /// The progress events of job `id` as the daemon streams them (`watch`), ending with the
    /// job's final state.
    func events(of id: String) -> AsyncThrowingStream<ProgressEvent, any Error> {
        let socket = socket
        return AsyncThrowingStream { continuation in
            Thread.detachNewThread {
                do {
                    _ = try ControlClient(socketPath: socket).watch(jobID: id) { continuation.yield($0) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
        }
    }

    /// The model card the job published.
    func modelCard(of id: String) throws -> [String: Any] {
        let url = root.appendingPathComponent("state/adapters/\(id)/model_card.json")
        return try #require(Self.object(Data(contentsOf: url)), "model card of \(id)")
    }

    /// Runs the built `dptunectl --json` against this daemon.
    func ctl(_ arguments: [String]) throws -> ProductExecutable.Result {
        try ProductExecutable("dptunectl").run(["--socket", socket, "--json"] + arguments)
    }

    func job(_ id: String) async throws -> [String: Any] {
        let result = try await onOwnThread { try self.ctl(["job", id]) }
        return try #require(Self.object(result.standardOutput), "job \(id): \(result.standardError)")
    }

    /// The id of the job made from `NAME.jsonl`, once intake queued it.
    func jobID(of name: String) async throws -> String {
        let id = try await onOwnThread { () -> String? in
            for _ in 0..<300 {
                let jobs = try self.ctl(["jobs"]).standardOutput
                if let rows = Self.object(jobs)?["jobs"] as? [[String: Any]],
                   let row = rows.first(where: { $0["dataset"] as? String == "\(name).jsonl" }) {
                    return row["id"] as? String
                }
                usleep(50_000)
            }
            return nil
        }
        return try #require(id, "no job for \(name); rejected: \((try? String(contentsOf: spool("rejected/\(name).error.json"), encoding: .utf8)) ?? "-")\nstderr: \(output.text)")
    }

    /// Drops a dataset long enough to be caught mid-training, and waits until its job runs
    /// and has taken a step.
    ///
    /// - Returns: the job's id.
    func startLongJob(_ name: String) async throws -> String {
        try drop(name, records: Self.longRecords, epochs: Self.longEpochs, batch: 1)
        let id = try await jobID(of: name)
        try await waitUntilTraining(id)
        return id
    }

    /// Queues a small dataset `name` behind a long running job and stops the daemon with it
    /// still queued: what a restart finds. Returns the long job's id and the queued one's.
    func queueBehindALongJobAndStop(_ name: String) async throws -> (running: String, queued: String) {
        let running = try await startLongJob("first")
        try drop(name, records: 40, epochs: 1, batch: 8)
        let queued = try await jobID(of: name)
        #expect(try await job(queued)["state"] as? String == "queued")
        let daemon = try #require(self.daemon)
        daemon.terminate()
        try await onOwnThread { daemon.waitUntilExit() }
        return (running, queued)
    }

    /// Waits until the job runs and has taken a step.
    func waitUntilTraining(_ id: String) async throws {
        let reached = try await onOwnThread { () -> Bool in
            for _ in 0..<1200 {
                let result = try self.ctl(["job", id])
                if let job = Self.object(result.standardOutput) {
                    if job["state"] as? String == "running", (job["step"] as? Int ?? 0) >= 1 { return true }
                    if job["state"] as? String != "running", job["state"] as? String != "queued" { return false }
                }
                usleep(25_000)
            }
            return false
        }
        if !reached {
            let last = try await job(id)
            Issue.record("job \(id) never trained: \(last)\nstderr: \(output.text)")
            throw CancellationError()
        }
    }

    /// Waits until the job is final (through a restart too) and returns it.
    func waitUntilEnded(_ id: String) async throws -> [String: Any] {
        let ended = try await onOwnThread { () -> String? in
            for _ in 0..<1200 {
                let text = try self.ctl(["job", id]).standardOutput
                if let state = Self.object(text)?["state"] as? String, ["succeeded", "failed", "cancelled"].contains(state) {
                    return text
                }
                usleep(50_000)
            }
            return nil
        }
        return try #require(ended.flatMap(Self.object), "job \(id) did not end; stderr: \(output.text)")
    }

    /// The ledger's charges of job `id`, through `dptunectl ledger`.
    func charges(of id: String) async throws -> [[String: Any]] {
        let result = try await onOwnThread { try self.ctl(["ledger", "--account", "lab"]) }
        let report = try #require(Self.object(result.standardOutput), "ledger: \(result.standardError)")
        return (report["charges"] as? [[String: Any]] ?? []).filter { $0["job_id"] as? String == id }
    }

    /// The pids of live `dptuned worker --job ID` processes, from `/proc`.
    func workerProcesses(of id: String) throws -> [Int32] {
        try FileManager.default.contentsOfDirectory(atPath: "/proc").compactMap(Int32.init).filter { pid in
            guard Self.isAlive(pid), let bytes = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            let arguments = bytes.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            return arguments.contains("worker") && arguments.contains(id)
        }
    }

    /// Whether `pid` exists and is not a zombie (an orphan may wait for a reaper that never comes).
    static func isAlive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        return !stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }

    static func object(_ text: some StringProtocol) -> [String: Any]? {
        object(Data(text.utf8))
    }

    static func object(_ data: Data) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }
}
