// SPDX-License-Identifier: Apache-2.0
import Control
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("ControlClient")
struct ControlClientTests {
    @Test("every request and its typed answer survive the real socket")
    func roundTripOfEveryRequest() async throws {
        try await ServerFixture.with { fixture in
            typealias Fake = FakeControlHandler
            #expect(try await fixture.send(.status) == .status(Fake.status))
            #expect(try await fixture.send(.jobs) == .jobs([Fake.job]))
            #expect(try await fixture.send(.job(id: "job-1")) == .job(Fake.detail))
            #expect(try await fixture.send(.ledger(account: nil)) == .ledger(LedgerReport(charges: [Fake.charge])))
            #expect(
                try await fixture.send(.ledger(account: "hospital-a"))
                    == .ledger(LedgerReport(account: Fake.account, charges: [Fake.charge])))
            #expect(try await fixture.send(.accounts) == .accounts([Fake.account, Fake.closedAccount]))
            #expect(try await fixture.send(.plugins) == .plugins([Fake.plugin, Fake.retiredPlugin]))
            #expect(try await fixture.send(.pluginsReload) == .plugins([Fake.plugin, Fake.retiredPlugin]))
            let begin = SubmitBegin(name: "notes.jsonl", size: 3, manifestSize: 2)
            let beginWithoutManifest = SubmitBegin(name: "more.jsonl", size: 0)
            let chunk = SubmitChunk(upload: Fake.uploadID, file: .manifest, offset: 0, bytes: Data("{}".utf8))
            let end = SubmitEnd(upload: Fake.uploadID, sha256: String(repeating: "a", count: 64), manifestSHA256: "b")
            let endWithoutManifest = SubmitEnd(upload: Fake.uploadID, sha256: "c")
            #expect(try await fixture.send(.submitBegin(begin)) == .upload(UploadProgress(upload: Fake.uploadID)))
            #expect(try await fixture.send(.submitChunk(chunk)) == .upload(UploadProgress(upload: Fake.uploadID, manifestBytes: 2)))
            #expect(try await fixture.send(.submitEnd(end)) == .submitted(SubmitReceipt(dataset: "notes")))
            #expect(try await fixture.send(.submitBegin(beginWithoutManifest)) == .upload(UploadProgress(upload: Fake.uploadID)))
            #expect(try await fixture.send(.submitEnd(endWithoutManifest)) == .submitted(SubmitReceipt(dataset: "more")))
            guard case .job(let cancelled) = try await fixture.send(.cancel(id: "job-1")) else {
                Issue.record("cancel did not answer with a job")
                return
            }
            #expect(cancelled.summary.state == .cancelled)
            #expect(cancelled.summary.reason == "cancelled by uid 0")

            // The parameters arrived exactly as sent, optional ones included.
            let requests = fixture.handler.received.map(\.request)
            #expect(
                requests == [
                    .status, .jobs, .job(id: "job-1"), .ledger(account: nil), .ledger(account: "hospital-a"), .accounts,
                    .plugins, .pluginsReload,
                    .submitBegin(begin), .submitChunk(chunk), .submitEnd(end), .submitBegin(beginWithoutManifest),
                    .submitEnd(endWithoutManifest), .cancel(id: "job-1"),
                ])
            #expect(fixture.handler.received.allSatisfy { $0.peer.uid == getuid() && $0.peer.pid == getpid() })
        }
    }

    @Test("watch delivers every event in order, then the job as it ended")
    func watchStreamsEvents() async throws {
        try await ServerFixture.with { fixture in
            let events = (1...3).map { step in
                ProgressEvent(
                    jobID: "job-1", state: .running, step: step * 10, totalSteps: 100, loss: 1.0 / Double(step),
                    epsilonSpent: 0.5 * Double(step), examplesPerSecond: 120)
            }
            fixture.handler.setWatchEvents(events, for: "job-1")
            let path = fixture.socketPath
            let (seen, final) = try await BlockingThread.run {
                let client = try ControlClient(socketPath: path)
                var seen: [ProgressEvent] = []
                let final = try client.watch(jobID: "job-1") { seen.append($0) }
                // The connection is reusable after the stream ended.
                let status = try client.send(.status)
                #expect(status == .status(FakeControlHandler.status))
                return (seen, final)
            }
            #expect(seen == events)
            #expect(final == FakeControlHandler.detail)
        }
    }

    @Test("non-finite numbers (diverged loss, unbounded epsilon) survive the wire")
    func nonFiniteNumbers() async throws {
        try await ServerFixture.with { fixture in
            let event = ProgressEvent(
                jobID: "job-1", state: .failed, step: 3, totalSteps: 100, loss: .nan, epsilonSpent: .infinity,
                examplesPerSecond: -.infinity)
            fixture.handler.setWatchEvents([event], for: "job-1")
            let path = fixture.socketPath
            let seen = try await BlockingThread.run {
                var seen: [ProgressEvent] = []
                _ = try ControlClient(socketPath: path).watch(jobID: "job-1") { seen.append($0) }
                return seen
            }
            let received = try #require(seen.first)
            #expect(received.loss?.isNaN == true)
            #expect(received.epsilonSpent == .infinity)
            #expect(received.examplesPerSecond == -.infinity)
        }
    }

    @Test("a refusal arrives as a ControlError with the daemon's code and message")
    func refusalsCarryTheirCode() async throws {
        try await ServerFixture.with { fixture in
            let path = fixture.socketPath
            let errors = try await BlockingThread.run { () -> [ControlError] in
                let client = try ControlClient(socketPath: path)
                var errors: [ControlError] = []
                for request in [ControlRequest.job(id: "nope"), .watch(id: "nope"), .ledger(account: "nobody-knows")] {
                    do {
                        try client.send(request)
                    } catch let error as ControlError {
                        errors.append(error)
                    }
                }
                return errors
            }
            #expect(errors.map(\.code) == [.notFound, .notFound, .notFound])
            #expect(errors.first?.message == "no job nope")
        }
    }

    @Test("no socket file: daemonNotRunning with a one-line hint")
    func missingSocketMeansNotRunning() throws {
        let directory = try ServerFixture.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("absent.sock").path
        let error = #expect(throws: ControlError.self) { try ControlClient(socketPath: path) }
        #expect(error?.code == .daemonNotRunning)
        #expect(error?.message.contains("dptuned is not running") == true)
        #expect(error?.message.contains("\n") == false)
    }

    @Test("a socket file nobody listens on (ECONNREFUSED): daemonNotRunning")
    func staleSocketMeansNotRunning() throws {
        let directory = try ServerFixture.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("stale.sock").path
        let fd = try SocketFiles.bind(path: path, listen: false)
        defer { close(fd) }
        let error = #expect(throws: ControlError.self) { try ControlClient(socketPath: path) }
        #expect(error?.code == .daemonNotRunning)
    }

    @Test("other failures (here ENOTDIR) are connectionFailed, not 'not running'")
    func otherFailuresAreDistinct() throws {
        let directory = try ServerFixture.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("plain-file").path
        #expect(FileManager.default.createFile(atPath: file, contents: Data("x".utf8)))
        let error = #expect(throws: ControlError.self) { try ControlClient(socketPath: file + "/control.sock") }
        #expect(error?.code == .connectionFailed)
    }
}
