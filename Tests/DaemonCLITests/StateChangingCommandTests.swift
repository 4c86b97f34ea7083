// SPDX-License-Identifier: Apache-2.0
import Control
import Foundation
import TestSupport
import Testing

/// `cancel`, `submit` and `plugins reload` send the request they promise.
@Suite struct StateChangingCommandTests {
    @Test func cancelSendsCancelAndShowsTheJobCancelled() async throws {
        try await CLIFixture.with { fixture in
            let result = try await fixture.run("cancel", "job-1")
            #expect(result.status == 0)
            #expect(fixture.handler.received.map(\.request) == [.cancel(id: "job-1")])
            #expect(CLIFixture.lines(result.standardOutput).contains("state       cancelled"))
        }
    }

    @Test func submitSendsAbsolutePaths() async throws {
        try await CLIFixture.with { fixture in
            let result = try await fixture.run("submit", "/data/in/notes.jsonl", "--manifest", "rel/../notes.manifest.json")
            #expect(result.status == 0)
            #expect(result.standardOutput.hasPrefix("queued dataset notes"))
            let cwd = URL(fileURLWithPath: FileManager.default.currentDirectoryPath, isDirectory: true)
            let manifest = cwd.appendingPathComponent("notes.manifest.json").standardizedFileURL.path
            #expect(
                fixture.handler.received.map(\.request)
                    == [.submit(path: "/data/in/notes.jsonl", manifestPath: manifest)])
        }
    }

    @Test func submitWithoutManifestSendsNone() async throws {
        try await CLIFixture.with { fixture in
            let result = try await fixture.run("--json", "submit", "/data/in/notes.jsonl")
            #expect(try CLIFixture.decode(SubmitReceipt.self, from: result.standardOutput) == SubmitReceipt(dataset: "notes"))
            #expect(fixture.handler.received.map(\.request) == [.submit(path: "/data/in/notes.jsonl", manifestPath: nil)])
        }
    }

    @Test func pluginsReloadSendsReloadAndListsTheBuilds() async throws {
        try await CLIFixture.with { fixture in
            let result = try await fixture.run("plugins", "reload")
            #expect(result.status == 0)
            #expect(fixture.handler.received.map(\.request) == [.pluginsReload])
            let lines = CLIFixture.lines(result.standardOutput)
            #expect(lines.first == "plugins reloaded")
            #expect(lines.count == 4)
        }
    }
}
