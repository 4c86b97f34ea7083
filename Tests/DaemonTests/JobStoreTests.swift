// SPDX-License-Identifier: Apache-2.0
@testable import Daemon
import Control
import Foundation
import Records
import Testing
import TestSupport

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

    /// A withdrawn job is out of the scheduler's reach at once; a started one cannot be
    /// withdrawn; a restored one takes its place in admission order again.
    @Test func withdrawTakesOnlyAQueuedJobAndRestoreKeepsAdmissionOrder() async throws {
        let world = try DaemonWorld()
        var ids: [String] = []
        for name in ["a", "b", "c"] {
            try world.fixture.drop(name, manifest: DaemonFixture.manifest(account: "acme"))
            ids.append(try #require(await world.intake.process("\(name).jsonl")).id)
        }
        #expect(await world.jobs.withdraw(id: ids[0])?.id == ids[0])
        #expect(await world.jobs.withdraw(id: ids[0]) == nil)
        #expect(try await world.jobs.startNext()?.id == ids[1])
        #expect(await world.jobs.withdraw(id: ids[1]) == nil)
        #expect(await world.jobs.withdraw(id: "j-missing") == nil)
        await world.jobs.restore(id: ids[0])
        #expect(await world.jobs.queuedIDs == [ids[0], ids[2]])
        #expect(await world.jobs.job(id: ids[0])?.state == .queued)
    }

    /// A watcher who arrives between two steps gets the last step's progress first, then
    /// every later step, then the final state.
    @Test func aLateWatcherStartsFromTheLatestStep() async throws {
        let world = try DaemonWorld()
        try world.fixture.drop("late", manifest: DaemonFixture.manifest(account: "acme"))
        let id = try #require(await world.intake.process("late.jsonl")).id
        let started = try #require(try await world.jobs.startNext())
        #expect(started.id == id)
        func progress(_ step: Int) -> ProgressEvent {
            ProgressEvent(jobID: id, state: .running, step: step, totalSteps: 10, loss: 0.5,
                          epsilonSpent: 0.1 * Double(step), examplesPerSecond: 40)
        }
        try await world.jobs.record(progress(2))
        try await world.jobs.record(progress(3))
        let stream = try #require(await world.jobs.watch(id: id))
        try await world.jobs.record(progress(4))
        try await world.jobs.finish(id: id, state: .succeeded, reason: nil)
        var seen: [ProgressEvent] = []
        for await event in stream { seen.append(event) }
        #expect(seen.map(\.step) == [3, 4, 4])
        #expect(seen.map(\.state) == [.running, .running, .succeeded])
        #expect(seen.first == progress(3))
    }

    /// A queued job's record holds the manifest as admitted, which reads back to the one
    /// intake parsed, the held-out fraction and the dataset's hash; a record written before they were kept
    /// still loads, without them (its worker then reads the spool's manifest).
    @Test func theRecordKeepsTheAdmittedManifestAndOlderRecordsStillLoad() async throws {
        let world = try DaemonWorld()
        try world.fixture.drop("kept", manifest: DaemonFixture.manifest(account: "acme"))
        let job = try #require(await world.intake.process("kept.jsonl"))
        let state = world.fixture.config.paths.stateDirectory
        let record = try JobStore.record(id: job.id, stateDirectory: state)
        let admitted = try #require(record.admittedManifest)
        var defaults = world.fixture.config.defaults
        defaults.account = "acme"
        let expected = try Manifest.parse(Data(DaemonFixture.manifest(account: "acme").utf8), defaults: defaults)
        #expect(try Manifest.parse(Data(admitted.utf8), defaults: ManifestDefaults()) == expected)
        #expect(record.heldOutFraction == world.fixture.config.heldOutFraction)
        let accepted = world.fixture.config.paths.spool.appendingPathComponent("accepted/\(job.dataset)")
        let reference = try ReferenceSHA256.of(path: accepted.path)
        #expect(record.datasetSHA256 != nil && record.datasetSHA256 == reference)

        let file = state.appendingPathComponent("jobs/\(job.id).json")
        var object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any])
        for key in ["admittedManifest", "heldOutFraction", "labelShare", "datasetSHA256"] { object[key] = nil }
        try JSONSerialization.data(withJSONObject: object).write(to: file)
        let older = try JobStore.record(id: job.id, stateDirectory: state)
        #expect(older.admittedManifest == nil && older.heldOutFraction == nil && older.datasetSHA256 == nil)
        #expect(older.chargedPlan == record.chargedPlan)
    }

    /// A job whose last loss was NaN (a diverged run) still finishes, and its file reads
    /// back with that loss: before, writing the file threw and the job could not end.
    @Test func aDivergedLossDoesNotStopTheJobFromFinishing() async throws {
        let world = try DaemonWorld()
        try world.fixture.drop("diverged", manifest: DaemonFixture.manifest(account: "acme"))
        let id = try #require(await world.intake.process("diverged.jsonl")).id
        _ = try await world.jobs.startNext()
        try await world.jobs.record(ProgressEvent(jobID: id, state: .running, step: 1, totalSteps: 10, loss: .nan,
                                                  epsilonSpent: 0.1, examplesPerSecond: 40))
        try await world.jobs.finish(id: id, state: .failed, reason: "stopped")
        let reopened = try JobStore(stateDirectory: world.fixture.config.paths.stateDirectory)
        let job = try #require(await reopened.job(id: id))
        #expect(job.state == .failed)
        #expect(job.loss?.isNaN == true)
    }
}
