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

    /// dptunectl reads the files itself and sends their bytes: the manifest, then the
    /// dataset in chunks of at most 256 KiB at contiguous offsets, and the SHA-256 of each.
    @Test func submitSendsTheFilesBytesInChunksWithTheirHashes() async throws {
        try await CLIFixture.with { fixture in
            let directory = try TemporaryDirectory(prefix: "dptunectl-submit")
            let rows = String(repeating: #"{"input": "a review", "output": "positive"}"# + "\n", count: 15_000)
            let dataset = try directory.write("notes.jsonl", rows)
            let manifest = try directory.write("notes.manifest.json", #"{"account": "acme"}"#)
            let result = try await fixture.run("submit", dataset, "--manifest", manifest)
            #expect(result.status == 0, "\(result.standardError)")
            #expect(result.standardOutput.hasPrefix("queued dataset notes"))

            let requests = fixture.handler.received.map(\.request)
            #expect(requests.first == .submitBegin(SubmitBegin(name: "notes.jsonl", size: rows.utf8.count, manifestSize: 19)))
            let chunks = requests.compactMap { request -> SubmitChunk? in
                guard case .submitChunk(let chunk) = request else { return nil }
                return chunk
            }
            #expect(chunks.map(\.file) == [.manifest, .dataset, .dataset, .dataset])
            let datasetChunks = chunks.filter { $0.file == .dataset }
            let bytes = try datasetChunks.map { try $0.bytes() }
            #expect(bytes.allSatisfy { $0.count <= ControlClient.uploadChunkBytes })
            #expect(datasetChunks.map(\.offset) == [0, bytes[0].count, bytes[0].count + bytes[1].count])
            #expect(bytes.reduce(Data(), +) == Data(rows.utf8))
            #expect(
                requests.last
                    == .submitEnd(SubmitEnd(
                        upload: FakeControlHandler.uploadID, sha256: try #require(try ReferenceSHA256.of(path: dataset)),
                        manifestSHA256: try ReferenceSHA256.of(path: manifest))))
        }
    }

    @Test func submitWithoutManifestSendsNoneAndPrintsTheReceipt() async throws {
        try await CLIFixture.with { fixture in
            let directory = try TemporaryDirectory(prefix: "dptunectl-submit")
            let dataset = try directory.write("notes.jsonl", "{}\n")
            let result = try await fixture.run("--json", "submit", dataset)
            #expect(try CLIFixture.decode(SubmitReceipt.self, from: result.standardOutput) == SubmitReceipt(dataset: "notes"))
            #expect(
                fixture.handler.received.map(\.request) == [
                    .submitBegin(SubmitBegin(name: "notes.jsonl", size: 3)),
                    .submitChunk(SubmitChunk(upload: FakeControlHandler.uploadID, file: .dataset, offset: 0, bytes: Data("{}\n".utf8))),
                    .submitEnd(SubmitEnd(upload: FakeControlHandler.uploadID, sha256: try #require(try ReferenceSHA256.of(path: dataset)))),
                ])
        }
    }

    /// A file the caller cannot open is refused before the daemon hears of it.
    @Test func submitOfAMissingFileSendsNothing() async throws {
        try await CLIFixture.with { fixture in
            let result = try await fixture.run("submit", "/nonexistent/notes.jsonl")
            #expect(result.status == 1)
            #expect(result.standardError.contains("cannot open /nonexistent/notes.jsonl: No such file or directory (unreadable_file)"))
            #expect(fixture.handler.received.isEmpty)
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
