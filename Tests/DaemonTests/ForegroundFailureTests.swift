// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing
import TestSupport

/// How `dptuned train` ends when its command line is fine but its input is not: one line
/// `Error: …` and status 65 (EX_DATAERR), never the usage text and 64 that blame the
/// arguments; any other failure ends with 1.
@Suite(.disabled(if: SharedFixtures.mayBeSkipped, Comment(rawValue: SharedFixtures.skipMessage)))
struct ForegroundFailureTests {
    @Test func aRefusedManifestEndsWithOneLineAndStatus65() throws {
        let directory = try TemporaryDirectory(prefix: "dptune-foreground")
        let data = try directory.write("reviews.jsonl", Data(DaemonFixture.dataset(records: 40).utf8))
        let dptuned = try ProductExecutable("dptuned")
        func train(manifest: String, _ more: [String] = []) throws -> ProductExecutable.Result {
            let file = try directory.write("\(UUID().uuidString).manifest.json", Data(manifest.utf8))
            return try dptuned.run(["train", data, "--manifest", file, "--backbone", SharedFixtures.url("models/minilm-l6").path,
                                    "--out", directory.url.appendingPathComponent(UUID().uuidString).path] + more)
        }
        let labels = #""labels": {"sentiment": ["negative", "positive"]}"#
        for (manifest, said) in [
            (#"{"strategy": "bitfit", "labels": "#, "the manifest is not valid JSON"),
            (#"{"strategy": "bitfit", \#(labels), "privacy": {"epsilon": -1}}"#, "privacy.epsilon"),
            (#"{"strategy": "bitfit", \#(labels), "train": {"epochs": 10000000000}}"#, "a job may take"),
        ] {
            let refused = try train(manifest: manifest)
            #expect(refused.status == 65, "\(manifest): \(refused.standardError)")
            let lines = refused.standardError.split(separator: "\n")
            #expect(lines.count == 1 && lines[0].hasPrefix("Error: ") && lines[0].contains(said), "\(manifest): \(refused.standardError)")
            #expect(!refused.standardError.contains("Usage:"), "\(manifest): \(refused.standardError)")
        }

        // A plugin that is not there is no fault of the input: status 1, still one line.
        let missing = try train(manifest: #"{"strategy": "bitfit", \#(labels)}"#,
                                ["--plugins", directory.url.appendingPathComponent("none").path])
        #expect(missing.status == 1, "\(missing.standardError)")
        #expect(missing.standardError.hasPrefix("Error: no plugin for strategy bitfit"), "\(missing.standardError)")
        #expect(!missing.standardError.contains("Usage:"), "\(missing.standardError)")
    }
}
