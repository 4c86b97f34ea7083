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

    private func run(_ body: String, timeout: Duration = .seconds(30), maxOutputBytes: Int = 1 << 20) throws -> ShortLivedChild {
        let (executable, directory) = try Self.script(body)
        return try withExtendedLifetime(directory) {
            try ShortLivedChild(executable: executable, arguments: [], timeout: timeout, maxOutputBytes: maxOutputBytes)
        }
    }

    /// Whether process `pid` has ended (gone, or a zombie nobody reaped yet), waiting up to two seconds.
    static func hasEnded(_ pid: Int32) -> Bool {
        for _ in 0..<100 {
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return true }
            // The state follows the command name in parentheses.
            if let close = stat.lastIndex(of: ")"), stat[stat.index(after: close)...].hasPrefix(" Z") { return true }
            usleep(20_000)
        }
        return false
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
        let result = try await PluginProbe.probe(file: directory.url.appendingPathComponent("libhung.so"), executable: executable,
                                             stagingDirectory: directory.url, timeout: .milliseconds(200))
        guard case .failure(let refusal) = result else {
            Issue.record("probed: \(result)")
            return
        }
        #expect(refusal.code == "probe_timed_out")
    }

    /// Only the tail of the output is kept: a 5 MB line leaves at most the limit, and an
    /// answer printed after it is still found.
    @Test func onlyTheTailOfTheOutputIsKept() throws {
        let line = "head -c 5000000 /dev/zero | tr '\\0' x; echo"
        let cut = try run(line, maxOutputBytes: 4096)
        #expect(cut.end == .exited(0))
        #expect(cut.lastLine.count < 4096)
        #expect(cut.lastLine.allSatisfy { $0 == UInt8(ascii: "x") })
        let answered = try run(line + "; echo '{\"answer\": 1}'", maxOutputBytes: 4096)
        #expect(String(decoding: answered.lastLine, as: UTF8.self) == #"{"answer": 1}"#)
    }

    /// A child that prints without end is stopped at the deadline, keeping only the tail.
    @Test func endlessOutputEndsAtTheDeadline() throws {
        let start = ContinuousClock.now
        let child = try run("exec cat /dev/zero", timeout: .milliseconds(300), maxOutputBytes: 4096)
        #expect(child.end == .timedOut)
        #expect(child.lastLine.count <= 4096)
        #expect(ContinuousClock.now - start < .seconds(10))
    }

    /// A process the child started keeps the output pipe open after the child answered and
    /// exited: the answer counts at once, and the leftover process is ended.
    @Test func aGrandchildHoldingThePipeDoesNotHoldTheCaller() throws {
        let (executable, directory) = try Self.script(#"sleep 20 & echo $! > "$(dirname "$0")/grandchild.pid"; echo '{"answer": 1}'"#)
        let start = ContinuousClock.now
        let child = try ShortLivedChild(executable: executable, arguments: [], timeout: .seconds(15))
        #expect(ContinuousClock.now - start < .seconds(5))
        #expect(child.end == .exited(0))
        #expect(String(decoding: child.lastLine, as: UTF8.self) == #"{"answer": 1}"#)
        let pidText = try String(contentsOf: directory.url.appendingPathComponent("grandchild.pid"), encoding: .utf8)
        let pid = try #require(Int32(pidText.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(Self.hasEnded(pid))
    }

    /// A run called off (the daemon stopping) ends within moments, long before its
    /// deadline, and takes the child's group with it: the child ignores SIGTERM, and the
    /// process it started would otherwise live on.
    @Test func aRunCalledOffEndsAtOnceWithItsGroup() throws {
        let (executable, directory) = try Self.script(#"""
            trap '' TERM
            sleep 30 & echo $! > "$(dirname "$0")/grandchild.pid.new"
            mv "$(dirname "$0")/grandchild.pid.new" "$(dirname "$0")/grandchild.pid"
            exec sleep 30
            """#)
        let pidFile = directory.url.appendingPathComponent("grandchild.pid")
        let start = ContinuousClock.now
        #expect(throws: ShortLivedChild.CalledOff.self) {
            _ = try ShortLivedChild(executable: executable, arguments: [], timeout: .seconds(120),
                                    callOff: { FileManager.default.fileExists(atPath: pidFile.path) })
        }
        #expect(ContinuousClock.now - start < .seconds(5))
        let pidText = try String(contentsOf: pidFile, encoding: .utf8)
        let pid = try #require(Int32(pidText.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(Self.hasEnded(pid))
    }

    /// The deadline holds when the hung child's own child keeps the pipe open too.
    @Test func theDeadlineHoldsWhenAGrandchildKeepsThePipe() throws {
        let start = ContinuousClock.now
        let child = try run("sleep 20 & exec sleep 20", timeout: .milliseconds(300))
        #expect(child.end == .timedOut)
        #expect(ContinuousClock.now - start < .seconds(5))
    }
}
