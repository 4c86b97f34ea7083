// SPDX-License-Identifier: Apache-2.0
@testable import Daemon
import Foundation
import Testing

@Suite struct JobStoreTests {
    /// Jobs admitted within one second share their recorded creation time; the queue a
    /// restarted daemon reads back must still be the admission order, not the order of
    /// their random ids.
    @Test func reopenedQueueKeepsAdmissionOrder() async throws {
        let world = try DaemonWorld()
        var admitted: [String] = []
        for name in ["e", "d", "c", "b", "a", "f"] {
            try world.fixture.drop(name, manifest: DaemonFixture.manifest(account: "acme"))
            admitted.append(try #require(await world.intake.process("\(name).jsonl")).id)
        }
        #expect(await world.jobs.queuedIDs == admitted)
        let reopened = try JobStore(stateDirectory: world.fixture.config.paths.stateDirectory)
        #expect(await reopened.queuedIDs == admitted)
        #expect(await reopened.all().map(\.id) == admitted)
        #expect(await reopened.all().map(\.admissionNumber) == Array(1...admitted.count))
    }
}
