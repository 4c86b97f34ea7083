// SPDX-License-Identifier: Apache-2.0
import Control
@testable import Daemon
import Foundation
import Glibc
import Ledger
import Spool
import Testing
import TestSupport

/// `dptuned --config FILE` run as systemd would: the notify protocol, the control socket,
/// SIGTERM, and a refusal to start on a damaged ledger.
@Suite(.serialized) struct DptunedProcessTests {
    /// Collects a child's stderr on a thread of its own, so a chatty child never blocks.
    final class Output: @unchecked Sendable {
        private let lock = NSLock()
        private var data = Data()
        func append(_ more: Data) { lock.withLock { data.append(more) } }
        var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }

        /// The text once it contains `marker` (the reader thread may lag the child's exit),
        /// or as it is after two seconds.
        func text(containing marker: String) -> String {
            for _ in 0..<100 where !text.contains(marker) { usleep(20_000) }
            return text
        }
    }

    static func launch(_ fixture: DaemonFixture, notifySocket: String, configFile: URL? = nil) throws -> (Process, Output) {
        let process = Process()
        process.executableURL = try ProductExecutable("dptuned").url
        process.arguments = ["--config", (configFile ?? fixture.configFile).path]
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = notifySocket
        environment.removeValue(forKey: "JOURNAL_STREAM")
        environment.removeValue(forKey: "LISTEN_FDS")
        process.environment = environment
        let errors = Pipe()
        process.standardError = errors
        let output = Output()
        errors.fileHandleForReading.readabilityHandler = { handle in output.append(handle.availableData) }
        try process.run()
        return (process, output)
    }

    /// The notify socket, read by one test thread at a time.
    final class NotifySink: @unchecked Sendable {
        let sink: DatagramSink
        init() throws { sink = try DatagramSink() }
        var path: String { sink.path }
        func receive(timeoutMilliseconds: Int32) -> [UInt8]? { sink.receive(timeoutMilliseconds: timeoutMilliseconds) }
    }

    /// Datagrams until one contains `assignment`, or nil after the timeout.
    static func await(_ assignment: String, from sink: NotifySink, timeoutMilliseconds: Int32 = 60_000) -> String? {
        while let datagram = sink.receive(timeoutMilliseconds: timeoutMilliseconds) {
            let text = String(decoding: datagram, as: UTF8.self)
            if text.split(separator: "\n").contains(Substring(assignment)) { return text }
        }
        return nil
    }

    /// Runs the whole conversation off the cooperative pool: every step blocks.
    @Test func startsAnswersAndStopsOnSIGTERM() async throws {
        let fixture = try DaemonFixture()
        let sink = try NotifySink()
        let (process, output) = try Self.launch(fixture, notifySocket: sink.path)
        defer { if process.isRunning { process.interrupt() } }

        let ready = try await onOwnThread { Self.await("READY=1", from: sink) }
        try #require(ready != nil, "no READY=1; stderr: \(output.text)")
        let socketPath = fixture.config.control.path
        let result = try await onOwnThread {
            try ControlClient(socketPath: socketPath, timeout: .seconds(10)).send(.status)
        }
        guard case .status(let status) = result else { Issue.record("not a status: \(result)"); return }
        #expect(status.ledgerPath == fixture.config.paths.ledger.path)
        #expect(status.queueLength == 0)

        // No plugin is installed, so the watcher's dataset must end rejected, with its code.
        try fixture.drop("reviews", manifest: DaemonFixture.manifest(account: "acme"))
        let errorFile = fixture.config.paths.spool.appendingPathComponent("rejected/reviews.error.json").path
        let arrived = try await onOwnThread {
            for _ in 0..<400 where !FileManager.default.fileExists(atPath: errorFile) { usleep(50_000) }
            return FileManager.default.fileExists(atPath: errorFile)
        }
        #expect(arrived, "stderr: \(output.text)")
        #expect(try fixture.errorCode(of: "reviews") == "unknown_strategy")

        kill(process.processIdentifier, SIGHUP)
        #expect(try await onOwnThread { Self.await("RELOADING=1", from: sink) } != nil)
        #expect(try await onOwnThread { Self.await("READY=1", from: sink) } != nil)

        process.terminate()
        #expect(try await onOwnThread { Self.await("STOPPING=1", from: sink, timeoutMilliseconds: 20_000) } != nil)
        try await onOwnThread { process.waitUntilExit() }
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0, "stderr: \(output.text)")
    }

    /// SIGTERM with a backlog in incoming/: the daemon stops without working through it
    /// (it has a stop timeout to keep), and every dataset is either dealt with or still in
    /// incoming/ for the next start.
    @Test func stopsWithoutWorkingThroughTheIncomingBacklog() async throws {
        let fixture = try DaemonFixture()
        let count = 150
        _ = try SpoolDirectory(root: fixture.config.paths.spool)
        for index in 0..<count {
            try fixture.drop("backlog\(index)", manifest: DaemonFixture.manifest(account: "acme"), records: 20)
        }
        let sink = try NotifySink()
        let (process, output) = try Self.launch(fixture, notifySocket: sink.path)
        defer { if process.isRunning { process.interrupt() } }
        let ready = try await onOwnThread { () -> String? in
            let ready = Self.await("READY=1", from: sink)
            kill(process.processIdentifier, SIGTERM)
            return ready
        }
        try #require(ready != nil, "no READY=1; stderr: \(output.text)")
        try await onOwnThread { process.waitUntilExit() }
        #expect(process.terminationStatus == 0, "stderr: \(output.text)")

        func datasets(in folder: String) throws -> Set<String> {
            let url = fixture.config.paths.spool.appendingPathComponent(folder)
            return Set(try FileManager.default.contentsOfDirectory(atPath: url.path).filter { $0.hasSuffix(".jsonl") })
        }
        let left = try datasets(in: "incoming")
        let rejected = try datasets(in: "rejected")
        #expect(!left.isEmpty, "the daemon took all \(count) datasets before it stopped")
        #expect(left.count + rejected.count == count)
        #expect(left.isDisjoint(with: rejected))
    }

    /// A second daemon on the same folders, here with a socket of its own so that the socket
    /// cannot be what stops it, refuses before it changes anything: its start-up sweep would
    /// remove the manifest a live preflight is reading.
    @Test func aSecondDaemonOnTheSameFoldersRefusesToStartAndChangesNothing() async throws {
        let fixture = try DaemonFixture()
        let sink = try NotifySink()
        let (first, firstOutput) = try Self.launch(fixture, notifySocket: sink.path)
        defer { if first.isRunning { first.interrupt() } }
        let ready = try await onOwnThread { Self.await("READY=1", from: sink) }
        try #require(ready != nil, "no READY=1; stderr: \(firstOutput.text)")
        let preflightManifest = fixture.config.preflightStagingDirectory.appendingPathComponent("live.manifest.json")
        try FileManager.default.createDirectory(
            at: fixture.config.preflightStagingDirectory, withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: preflightManifest)

        let source = try String(contentsOf: fixture.configFile, encoding: .utf8)
        try #require(source.contains(#"socket = "run/control.sock""#))
        let secondConfig = URL(fileURLWithPath: try fixture.directory.write(
            "second.toml", source.replacingOccurrences(of: #"socket = "run/control.sock""#, with: #"socket = "run/second.sock""#)))
        let (second, output) = try Self.launch(fixture, notifySocket: sink.path, configFile: secondConfig)
        let ended = try await onOwnThread { () -> Bool in
            for _ in 0..<600 where second.isRunning { usleep(50_000) }
            return !second.isRunning
        }
        if !ended { second.terminate() }
        try #require(ended, "the second daemon started; stderr: \(output.text)")
        #expect(second.terminationStatus != 0)
        let stderr = output.text(containing: "refusing to start")
        #expect(stderr.contains("the state directory \(fixture.config.paths.stateDirectory.path) is in use by pid \(first.processIdentifier) (dptuned)"),
                "stderr: \(stderr)")
        #expect(FileManager.default.fileExists(atPath: preflightManifest.path))
        #expect(!FileManager.default.fileExists(atPath: fixture.directory.url.appendingPathComponent("run/second.sock").path))

        first.terminate()
        try await onOwnThread { first.waitUntilExit() }
        #expect(first.terminationStatus == 0, "stderr: \(firstOutput.text)")
    }

    @Test func damagedLedgerRefusesToStart() async throws {
        let fixture = try DaemonFixture()
        do {
            let ledger = try fixture.openLedger()
            _ = try ledger.accounts()
        }
        // Keep SQLite's header page, scramble the rest, as a bad disk would.
        let path = fixture.config.paths.ledger.path
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try #require(bytes.count > 8192)
        for index in 4096..<bytes.count { bytes[index] = UInt8(truncatingIfNeeded: index &* 7919) }
        try bytes.write(to: URL(fileURLWithPath: path))

        let sink = try NotifySink()
        let (process, output) = try Self.launch(fixture, notifySocket: sink.path)
        try await onOwnThread { process.waitUntilExit() }
        #expect(process.terminationStatus != 0)
        #expect(sink.receive(timeoutMilliseconds: 100) == nil)
        let stderr = output.text(containing: "refusing to start")
        #expect(stderr.contains("fails the integrity check '"), "stderr: \(stderr)")
        #expect(stderr.contains(path))
        #expect(stderr.contains("refusing to start"))
    }

    @Test func vanishedLedgerIsNotRecreatedOnceJobsExist() async throws {
        let fixture = try DaemonFixture()
        let jobsFolder = fixture.config.paths.stateDirectory.appendingPathComponent("jobs")
        try FileManager.default.createDirectory(at: jobsFolder, withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: jobsFolder.appendingPathComponent("j-old.json"))
        let sink = try NotifySink()
        let (process, output) = try Self.launch(fixture, notifySocket: sink.path)
        try await onOwnThread { process.waitUntilExit() }
        #expect(process.terminationStatus != 0)
        let stderr = output.text(containing: "refusing to start")
        #expect(stderr.contains("no privacy ledger at \(fixture.config.paths.ledger.path)"), "stderr: \(stderr)")
        #expect(!FileManager.default.fileExists(atPath: fixture.config.paths.ledger.path))
    }
}

@Suite(.serialized) struct DptunedPluginSwapTests {
    /// A plugin build renamed into the plugin directory of a running daemon is probed and
    /// listed without a restart, a rebuilt file replaces it, and removing the file
    /// withdraws it.
    @Test func newPluginBuildsAreLoadedWithoutARestart() async throws {
        let fixture = try DaemonFixture()
        try FileManager.default.createDirectory(at: fixture.config.paths.plugins, withIntermediateDirectories: true)
        let sink = try DptunedProcessTests.NotifySink()
        let (process, output) = try DptunedProcessTests.launch(fixture, notifySocket: sink.path)
        defer { if process.isRunning { process.interrupt() } }
        let ready = try await onOwnThread { DptunedProcessTests.await("READY=1", from: sink) }
        try #require(ready != nil, "no READY=1; stderr: \(output.text)")

        let socketPath = fixture.config.control.path
        let pluginDirectory = fixture.config.paths.plugins
        /// Waits until `plugins` lists the echo strategy at `version` in `state`.
        func listed(_ version: String, _ state: PluginState) async throws -> Bool {
            try await onOwnThread {
                for _ in 0..<200 {
                    if case .plugins(let rows) = try ControlClient(socketPath: socketPath, timeout: .seconds(10)).send(.plugins),
                       rows.contains(where: { $0.id == "echo" && $0.version == version && $0.state == state }) {
                        return true
                    }
                    usleep(50_000)
                }
                return false
            }
        }
        /// Installs a build the way operators should (copy beside, then rename), then waits
        /// until `plugins` reports `version` as current.
        func install(_ library: String, expecting version: String) async throws -> Bool {
            let staged = fixture.directory.url.appendingPathComponent("\(library).staged")
            try? FileManager.default.removeItem(at: staged)
            try FileManager.default.copyItem(at: BuildProducts.library(library), to: staged)
            #expect(rename(staged.path, pluginDirectory.appendingPathComponent("libecho.so").path) == 0)
            return try await listed(version, .current)
        }
        #expect(try await install("EchoV1", expecting: "1.0.0"), "stderr: \(output.text)")
        #expect(try await install("EchoV2", expecting: "2.0.0"), "stderr: \(output.text)")
        // Removed, with no reload asked for: the watcher sees it go.
        try FileManager.default.removeItem(at: pluginDirectory.appendingPathComponent("libecho.so"))
        #expect(try await listed("2.0.0", .withdrawn), "stderr: \(output.text)")

        process.terminate()
        try await onOwnThread { process.waitUntilExit() }
        #expect(process.terminationStatus == 0, "stderr: \(output.text)")
    }

    /// SIGTERM while a plugin that hangs in its entry point is being probed, from the
    /// plugin watcher and from a SIGHUP rescan: the daemon stops at once, probes killed,
    /// instead of waiting out each probe's 30 s deadline.
    @Test func aHungProbeDoesNotHoldAStop() async throws {
        let fixture = try DaemonFixture()
        let pluginDirectory = fixture.config.paths.plugins
        try FileManager.default.createDirectory(at: pluginDirectory, withIntermediateDirectories: true)
        let sink = try DptunedProcessTests.NotifySink()
        let (process, output) = try DptunedProcessTests.launch(fixture, notifySocket: sink.path)
        defer { if process.isRunning { process.interrupt() } }
        let ready = try await onOwnThread { DptunedProcessTests.await("READY=1", from: sink) }
        try #require(ready != nil, "no READY=1; stderr: \(output.text)")

        let staged = fixture.directory.url.appendingPathComponent("hang.staged")
        try FileManager.default.copyItem(at: BuildProducts.library("HangingEntry"), to: staged)
        #expect(rename(staged.path, pluginDirectory.appendingPathComponent("libhang.so").path) == 0)
        let daemon = process.processIdentifier
        let probes = try await onOwnThread { () -> [Int32] in
            for _ in 0..<200 {
                let found = Self.probeChildren(of: daemon)
                if !found.isEmpty { return found }
                usleep(50_000)
            }
            return []
        }
        try #require(!probes.isEmpty, "no probe started; stderr: \(output.text)")
        kill(daemon, SIGHUP)
        #expect(try await onOwnThread { DptunedProcessTests.await("RELOADING=1", from: sink) } != nil)

        let start = ContinuousClock.now
        process.terminate()
        try await onOwnThread { process.waitUntilExit() }
        #expect(ContinuousClock.now - start < .seconds(10), "stderr: \(output.text)")
        #expect(process.terminationStatus == 0, "stderr: \(output.text)")
        #expect(probes.allSatisfy(ShortLivedChildTests.hasEnded))
    }

    /// The ids of `dptuned plugin probe` processes whose parent is `parent`.
    private static func probeChildren(of parent: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")"),
                  let command = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            let arguments = command.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            return fields.count > 1 && Int32(fields[1]) == parent && arguments.dropFirst().prefix(2) == ["plugin", "probe"]
        }
    }
}
