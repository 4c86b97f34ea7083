// SPDX-License-Identifier: Apache-2.0
@testable import Daemon
import Foundation
import Records
import Testing
import TestSupport

/// The daemon side of the preflight, against stand-in children: every way a child can end
/// is a `preparation_failed` refusal except a clean answer without one.
@Suite struct JobPreflightTests {
    private func check(_ script: String, timeout: Duration = .seconds(30)) throws -> IntakeError? {
        let (executable, directory) = try ShortLivedChildTests.script(script)
        let preflight = JobPreflight(executable: executable, configFile: directory.url.appendingPathComponent("dptuned.toml"),
                                     stagingDirectory: directory.url, timeout: timeout)
        return withExtendedLifetime(directory) {
            preflight.check(dataset: "reviews.jsonl", pluginFile: directory.url.appendingPathComponent("liblora.so"))
        }
    }

    @Test func aCleanAnswerAdmits() throws {
        #expect(try check(#"echo 'a plugin printed this'; echo '{}'"#) == nil)
    }

    @Test func theChildsRefusalIsPassedOn() throws {
        let error = try #require(try check(#"echo '{"refusal": "invalid_option: rank must be at least 1"}'; exit 1"#))
        #expect(error.code == .preparationFailed)
        #expect(error.message.hasSuffix("nothing was charged: invalid_option: rank must be at least 1"))
    }

    @Test func theDaemonPassesTheDatasetConfigAndPlugin() throws {
        let error = try #require(try check(#"printf '{"refusal": "%s"}\n' "$*"; exit 1"#))
        #expect(error.message.contains("preflight --daemon-config "))
        #expect(error.message.contains("/liblora.so --staging "))
        #expect(error.message.hasSuffix(" reviews.jsonl"))
    }

    @Test(arguments: [
        ("kill -SEGV $$", "crashed (signal 11)"),
        ("exit 3", "exited with status 3 and no answer"),
        ("echo '{}'; exit 2", "exited with status 2"),
    ])
    func anyOtherEndRefuses(script: String, expected: String) throws {
        let error = try #require(try check(script))
        #expect(error.code == .preparationFailed)
        #expect(error.message.contains(expected), "\(error.message)")
    }

    @Test func aChildStillRunningAtTheTimeoutIsStoppedAndRefuses() throws {
        let error = try #require(try check("trap '' TERM; exec sleep 30", timeout: .milliseconds(200)))
        #expect(error.code == .preparationFailed)
        #expect(error.message.contains("still being prepared after"), "\(error.message)")
    }

    @Test func aChildThatCannotStartRefuses() throws {
        let preflight = JobPreflight(executable: URL(fileURLWithPath: "/nonexistent/dptuned"),
                                     configFile: URL(fileURLWithPath: "/nonexistent/dptuned.toml"),
                                     stagingDirectory: URL(fileURLWithPath: "/nonexistent"))
        let error = try #require(preflight.check(dataset: "reviews.jsonl", pluginFile: URL(fileURLWithPath: "/nonexistent/lib.so")))
        #expect(error.message.contains("cannot start dptuned preflight"))
    }
}
