// SPDX-License-Identifier: Apache-2.0
import Control
import Foundation
import TestSupport
import Testing

@Suite("ControlResult")
struct ControlResultTests {
    @Test("responses on the wire: v 1, the echoed id, snake_case members, ISO 8601 dates")
    func wireShape() async throws {
        try await ServerFixture.with { fixture in
            let lines = try await fixture.raw { connection in
                try [
                    "{\"v\":1,\"id\":41,\"method\":\"job\",\"params\":{\"id\":\"job-1\"}}",
                    "{\"v\":1,\"id\":42,\"method\":\"status\"}",
                ].map { request in
                    try connection.send(request + "\n")
                    return try connection.readLine() ?? ""
                }
            }
            let job = try #require(JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
            #expect(job["v"] as? Int == 1)
            #expect(job["id"] as? Int == 41)
            #expect(job["ok"] as? Bool == true)
            let detail = try #require(job["result"] as? [String: Any])
            #expect(detail["strategy_version"] as? String == "1.2.0")
            #expect(detail["epsilon_spent"] as? Double == 1.5)
            #expect(detail["total_steps"] as? Int == 100)
            #expect(detail["charge_id"] as? String == "charge-9")
            #expect(detail["created_at"] as? String == "2026-09-21T14:13:20.500Z")
            #expect(detail["finished_at"] == nil)
            #expect(lines[1].contains("\"running_jobs\":[{"))
            #expect(lines[1].contains("\"ledger_path\":\"/var/lib/dptune/ledger.sqlite\""))
        }
    }

    @Test("each method accepts only the result shape it documents")
    func answersMatchMethods() {
        let detail = ControlResult.job(FakeControlHandler.detail)
        #expect(detail.answers(.job) && detail.answers(.cancel) && detail.answers(.watch))
        #expect(!detail.answers(.jobs))
        #expect(ControlResult.plugins([]).answers(.pluginsReload))
        #expect(!ControlResult.submitted(SubmitReceipt(dataset: "x")).answers(.status))
    }

    @Test("a handler answering with the wrong shape, or failing oddly, yields internal")
    func handlerBugsBecomeInternal() async throws {
        let directory = try ServerFixture.makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("control.sock").path
        let server = ControlServer(configuration: .init(listener: .path(path, group: nil)), handler: MisbehavingHandler())
        try server.start()
        let codes = try await BlockingThread.run {
            let client = try ControlClient(socketPath: path)
            return [ControlRequest.status, .jobs].map { request -> ControlError.Code? in
                do {
                    try client.send(request)
                    return nil
                } catch {
                    return (error as? ControlError)?.code
                }
            }
        }
        await server.shutdown()
        #expect(codes == [.internal, .internal])
    }
}

private struct MisbehavingHandler: ControlHandler {
    struct Oops: Error {}

    func handle(_ request: ControlRequest, peer: PeerCredentials, connection: ControlConnectionID) async throws -> ControlResult {
        if request == .status { return .jobs([]) }
        throw Oops()
    }

    func watch(jobID: String, peer: PeerCredentials) async throws -> AsyncStream<ProgressEvent> {
        throw Oops()
    }
}
