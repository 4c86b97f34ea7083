// SPDX-License-Identifier: Apache-2.0
@testable import Daemon
import Foundation
import Testing
import TestSupport

/// The child runs behind the plugin probe and the job preflight, against shell scripts.
@Suite struct ShortLivedChildTests {
    /// A directory holding `child.sh` with `script` as its body.
    static func script(_ body: String) throws -> (executable: URL, directory: TemporaryDirectory) {
        let directory = try TemporaryDirectory(prefix: "dptune-child")
        let executable = URL(fileURLWithPath: try directory.write("child.sh", "#!/bin/sh\n" + body + "\n"))
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: executable.path)
        return (executable, directory)
    }

    private func run(_ body: String, timeout: Duration = .seconds(30)) throws -> ShortLivedChild {
        let (executable, directory) = try Self.script(body)
        return try withExtendedLifetime(directory) {
            try ShortLivedChild(executable: executable, arguments: [], timeout: timeout)
        }
    }

    @Test func theAnswerIsTheLastLineAndTheStatusIsKept() throws {
        let child = try run("echo 'printed by a plugin'; echo '{\"answer\": 1}'; echo; exit 4")
        #expect(String(decoding: child.lastLine, as: UTF8.self) == #"{"answer": 1}"#)
        #expect(child.end == .exited(4))
    }

    @Test func aSignalIsTold() throws {
        #expect(try run("kill -SEGV $$").end == .killedBySignal(11))
    }

    /// The child ignores SIGTERM, as plugin code may make it; the deadline still ends it.
    @Test func aChildIgnoringSIGTERMIsStoppedAtTheDeadline() throws {
        let start = ContinuousClock.now
        let child = try run("trap '' TERM; exec sleep 30", timeout: .milliseconds(200))
        #expect(child.end == .timedOut)
        #expect(ContinuousClock.now - start < .seconds(20))
    }

    /// A plugin that hangs while loading is refused at the probe's deadline.
    @Test func aHungProbeIsRefused() async throws {
        let (executable, directory) = try Self.script("trap '' TERM; exec sleep 30")
        let result = await PluginProbe.probe(file: directory.url.appendingPathComponent("libhung.so"), executable: executable,
                                             stagingDirectory: directory.url, timeout: .milliseconds(200))
        guard case .failure(let refusal) = result else {
            Issue.record("probed: \(result)")
            return
        }
        #expect(refusal.code == "probe_timed_out")
    }
}
