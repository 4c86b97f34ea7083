// SPDX-License-Identifier: Apache-2.0
@testable import Daemon
import Foundation
import Records
import Testing
import TestSupport

/// The daemon side of the preflight, against stand-in children: every way a child can end
/// is a `preparation_failed` refusal except a clean answer without one.
@Suite struct JobPreflightTests {
    static let manifest = Result {
        try Manifest(defaults: ManifestDefaults(account: "acme", backbone: "minilm-l6", strategy: "lora",
                                                labels: ["sentiment": ["negative", "positive"]]))
    }

    /// The stand-in child's answer; it runs in a directory of its own, which it may write.
    /// - Parameter callOffAt: a file the child may write in its directory; once it exists, the check is called off.
    private func check(_ script: String, timeout: Duration = .seconds(30), callOffAt marker: String? = nil,
                       inspect: (URL) throws -> Void = { _ in }) throws -> IntakeError? {
        let (executable, directory) = try ShortLivedChildTests.script(script)
        let preflight = JobPreflight(executable: executable,
                                     config: ChildConfig(original: directory.url.appendingPathComponent("dptuned.toml"), copy: nil),
                                     stagingDirectory: directory.url.appendingPathComponent("staging"), timeout: timeout)
        return try withExtendedLifetime(directory) {
            let error = preflight.check(dataset: "reviews.jsonl", manifest: try Self.manifest.get(), heldOutFraction: 0.25,
                                        pluginFile: directory.url.appendingPathComponent("liblora.so"),
                                        callOff: {
                                            marker.map { FileManager.default.fileExists(atPath: directory.url.appendingPathComponent($0).path) } ?? false
                                        })
            try inspect(directory.url)
            return error
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

    /// The child gets the config, the plugin, the held-out fraction, the dataset's name and
    /// the manifest as the daemon resolved it, in a file removed once the child is done.
    @Test func theDaemonPassesWhatTheJobIsPreparedWith() throws {
        let script = #"""
            while [ $# -gt 0 ]; do [ "$1" = --manifest ] && cp "$2" "$(dirname "$0")/seen.json" && seen="$2"; shift; done
            [ -n "$seen" ] && echo "$seen" > "$(dirname "$0")/path"
            printf '{"refusal": "%s"}\n' "$(tr '\0' ' ' < /proc/$$/cmdline)"; exit 1
            """#
        var passedFile = ""
        let error = try #require(try check(script) { directory in
            let seen = try Data(contentsOf: directory.appendingPathComponent("seen.json"))
            #expect(try Manifest.parse(seen, defaults: ManifestDefaults()) == Self.manifest.get())
            passedFile = try String(contentsOf: directory.appendingPathComponent("path"), encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
        })
        #expect(error.message.contains("preflight --daemon-config "))
        #expect(error.message.contains("/liblora.so --staging "))
        #expect(error.message.contains(" --held-out-fraction 0.25 reviews.jsonl"), "\(error.message)")
        #expect(!passedFile.isEmpty && !FileManager.default.fileExists(atPath: passedFile))
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

    /// A check called off because the daemon stops is no refusal of the job: the dataset
    /// must not go to rejected/ as `preparation_failed`.
    @Test func aCheckCalledOffIsNoRefusal() throws {
        let start = ContinuousClock.now
        let error = try #require(try check(#"trap '' TERM; touch "$(dirname "$0")/started"; exec sleep 30"#,
                                           timeout: .seconds(120), callOffAt: "started"))
        #expect(error.code == .intakeStopped, "\(error)")
        #expect(ContinuousClock.now - start < .seconds(5))
    }

    /// A preflight that cannot run (its manifest file unwritable on a full disk, the binary
    /// gone) says nothing about the job: the dataset waits rather than being rejected.
    @Test func aChildThatCannotStartDefers() throws {
        let preflight = JobPreflight(executable: URL(fileURLWithPath: "/nonexistent/dptuned"),
                                     config: ChildConfig(original: URL(fileURLWithPath: "/nonexistent/dptuned.toml"), copy: nil),
                                     stagingDirectory: URL(fileURLWithPath: "/nonexistent"))
        let error = try #require(preflight.check(dataset: "reviews.jsonl", manifest: try Self.manifest.get(), heldOutFraction: 0.1,
                                                 pluginFile: URL(fileURLWithPath: "/nonexistent/lib.so")))
        #expect(error.code == .intakeDeferred)
        #expect(error.message.contains("cannot start dptuned preflight"))
    }

    /// A child that ran short of disk or memory while preparing (its plugin copy on a full
    /// state disk) defers the dataset; any other refusal of the child stays a refusal.
    @Test func aChildThatRanShortDefers() throws {
        let error = try #require(try check(#"echo '{"refusal": "cannot stage a private copy", "shortage": true}'; exit 1"#))
        #expect(error.code == .intakeDeferred)
        #expect(error.message.hasSuffix("ran short while the job was being prepared: cannot stage a private copy"), "\(error.message)")
        let refused = try #require(try check(#"echo '{"refusal": "rank must be at least 1", "shortage": false}'; exit 1"#))
        #expect(refused.code == .preparationFailed)
    }
}
