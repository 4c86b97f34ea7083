// SPDX-License-Identifier: Apache-2.0
import Control
import Foundation
import Ledger
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
    }

    static func launch(_ fixture: DaemonFixture, notifySocket: String) throws -> (Process, Output) {
        let process = Process()
        process.executableURL = try ProductExecutable("dptuned").url
        process.arguments = ["--config", fixture.configFile.path]
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

    /// Datagrams until one contains `assignment`, or nil after the timeout.
    static func await(_ assignment: String, from sink: DatagramSink, timeoutMilliseconds: Int32 = 60_000) -> String? {
        while let datagram = sink.receive(timeoutMilliseconds: timeoutMilliseconds) {
            let text = String(decoding: datagram, as: UTF8.self)
            if text.split(separator: "\n").contains(Substring(assignment)) { return text }
        }
        return nil
    }

    @Test func startsAnswersAndStopsOnSIGTERM() throws {
        let fixture = try DaemonFixture()
        let sink = try DatagramSink()
        let (process, output) = try Self.launch(fixture, notifySocket: sink.path)
        defer { if process.isRunning { process.interrupt() } }

        let ready = Self.await("READY=1", from: sink)
        try #require(ready != nil, "no READY=1; stderr: \(output.text)")
        let result = try ControlClient(socketPath: fixture.config.control.path, timeout: .seconds(10)).send(.status)
        guard case .status(let status) = result else { Issue.record("not a status: \(result)"); return }
        #expect(status.ledgerPath == fixture.config.paths.ledger.path)
        #expect(status.queueLength == 0)

        process.terminate()
        #expect(Self.await("STOPPING=1", from: sink, timeoutMilliseconds: 20_000) != nil)
        process.waitUntilExit()
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0, "stderr: \(output.text)")
    }

    @Test func damagedLedgerRefusesToStart() throws {
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

        let sink = try DatagramSink()
        let (process, output) = try Self.launch(fixture, notifySocket: sink.path)
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
        #expect(sink.receive(timeoutMilliseconds: 100) == nil)
        let stderr = output.text
        #expect(stderr.contains("fails the integrity check '"), "stderr: \(stderr)")
        #expect(stderr.contains(path))
        #expect(stderr.contains("refusing to start"))
    }
}
