// SPDX-License-Identifier: Apache-2.0
@testable import Daemon
import Foundation
import Ledger
import Privacy
import Spool
import Testing

@Suite struct JobReconciliationTests {
    @Test func restartLeavesNoJobDroppedAndNoChargeRemoved() async throws {
        let world = try DaemonWorld()
        let (fixture, ledger, spool, jobs, intake) = (world.fixture, world.ledger, world.spool, world.jobs, world.intake)
        for name in ["started", "waiting", "cancelled"] {
            try fixture.drop(name, manifest: DaemonFixture.manifest(account: "acme"))
        }
        let started = try #require(await intake.process("started.jsonl"))
        let waiting = try #require(await intake.process("waiting.jsonl"))
        let cancelled = try #require(await intake.process("cancelled.jsonl"))
        // The daemon died: after starting one job, between a ledger cancel and its record,
        // and between an admission and its record.
        #expect(try await jobs.startNext()?.id == started.id)
        try ledger.cancel(job: cancelled.id, reason: "operator")
        _ = try ledger.admit(AdmissionRequest(
            jobID: "j-orphan", account: "acme",
            dataset: .init(sha256: String(repeating: "0", count: 64), spoolName: "orphan.jsonl", recordCount: 100),
            strategy: "lora", charges: [.init(event: .gaussian(noiseMultiplier: 5))]))
        let chargesBefore = try ledger.charges().count

        let reopened = try JobStore(stateDirectory: fixture.config.paths.stateDirectory)
        let changed = try await JobReconciliation.reconcile(
            ledger: ledger, jobs: reopened, spool: spool, adapterDirectory: fixture.config.adapterDirectory(job:),
            logger: DaemonFixture.logger).changed
        #expect(Set(changed) == ["j-orphan", started.id, cancelled.id])
        #expect(try ledger.job(id: "j-orphan").state == .failed)
        // The interrupted job runs again under its one reservation, ahead of the waiting one.
        #expect(try ledger.job(id: started.id).state == .admitted)
        #expect(await reopened.job(id: started.id)?.state == .queued)
        #expect(await reopened.job(id: cancelled.id)?.state == .cancelled)
        #expect(await reopened.job(id: waiting.id)?.state == .queued)
        #expect(await reopened.queuedIDs == [started.id, waiting.id])
        #expect(try ledger.charges().count == chargesBefore)
        #expect(Set(try ledger.unfinishedJobs().map(\.id)) == [started.id, waiting.id])
        // The datasets of the queued jobs stay in accepted/; the others are in done/ with
        // their results.
        #expect(Set(try spool.scan(.accepted).filter { $0.hasSuffix(".jsonl") }) == ["started.jsonl", "waiting.jsonl"])
        let done = fixture.config.paths.spool.appendingPathComponent("done")
        #expect(!FileManager.default.fileExists(atPath: done.appendingPathComponent("started.result.json").path))
        let cancelledResult = try JSONSerialization.jsonObject(
            with: Data(contentsOf: done.appendingPathComponent("cancelled.result.json"))) as? [String: Any]
        #expect(cancelledResult?["state"] as? String == "cancelled")
    }

    /// `done/NAME` as a JSON object.
    private static func result(_ name: String, _ fixture: DaemonFixture) throws -> [String: Any] {
        let url = fixture.config.paths.spool.appendingPathComponent("done/\(name)")
        return try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    /// Job A on train.jsonl succeeded and its dataset is in done/; a new train.jsonl was then
    /// admitted and moved to accepted/, and the daemon died before the job record was
    /// written. At restart that dataset is settled as the orphan it is: failed, without A's
    /// job id or adapter (it used to be matched to A by its file name and reported succeeded).
    @Test func anOrphanIsNotCreditedWithAnEndedJobOfTheSameName() async throws {
        let world = try DaemonWorld()
        let (fixture, ledger, spool, jobs) = (world.fixture, world.ledger, world.spool, world.jobs)
        try fixture.drop("train", manifest: DaemonFixture.manifest(account: "acme"))
        var first = try #require(await world.intake.process("train.jsonl"))
        _ = try await jobs.startNext()
        try ledger.commit(job: first.id)
        (first.state, first.adapterPath) = (.succeeded, "/adapters/\(first.id)")
        #expect(try spool.finish("train.jsonl", result: JobResult(first)) == "train.jsonl")
        try await jobs.finish(id: first.id, state: .succeeded, reason: nil, adapterPath: first.adapterPath)

        // The second train.jsonl: admitted and accepted, then the daemon is killed.
        try fixture.drop("train", manifest: DaemonFixture.manifest(account: "acme"), records: 150)
        _ = try ledger.admit(AdmissionRequest(
            jobID: "j-second", account: "acme",
            dataset: .init(sha256: String(repeating: "1", count: 64), spoolName: "train.jsonl", recordCount: 150),
            strategy: "lora", charges: [.init(event: .gaussian(noiseMultiplier: 5))]))
        #expect(try spool.accept("train.jsonl") == "train.jsonl")

        let reopened = try JobStore(stateDirectory: fixture.config.paths.stateDirectory)
        _ = try await JobReconciliation.reconcile(
            ledger: ledger, jobs: reopened, spool: spool, adapterDirectory: fixture.config.adapterDirectory(job:),
            logger: DaemonFixture.logger)
        #expect(try ledger.job(id: "j-second").state == .failed)
        #expect(try spool.scan(.accepted).isEmpty)
        let orphan = try Self.result("train-1.result.json", fixture)
        #expect(orphan["state"] as? String == "failed")
        #expect(orphan["job_id"] == nil)
        #expect(orphan["adapter_path"] == nil)
        let done = fixture.config.paths.spool.appendingPathComponent("done")
        #expect(try String(contentsOf: done.appendingPathComponent("train-1.jsonl"), encoding: .utf8)
            == DaemonFixture.dataset(records: 150))
        let earlier = try Self.result("train.result.json", fixture)
        #expect(earlier["job_id"] as? String == first.id)
        #expect(earlier["state"] as? String == "succeeded")
    }

    /// Killed between the ledger's commit and the job record of a job that succeeded: the
    /// restart records it succeeded with the adapter its worker published, and
    /// done/NAME.result.json says where that adapter is (it used to have no adapter_path).
    @Test func aSucceededJobSettledAtStartUpKeepsItsPublishedAdapter() async throws {
        let world = try DaemonWorld()
        let (fixture, ledger, spool, jobs) = (world.fixture, world.ledger, world.spool, world.jobs)
        for name in ["tuned", "unpublished"] {
            try fixture.drop(name, manifest: DaemonFixture.manifest(account: "acme"))
        }
        let tuned = try #require(await world.intake.process("tuned.jsonl"))
        let unpublished = try #require(await world.intake.process("unpublished.jsonl"))
        // The worker of `tuned` published its adapter; the daemon committed both charges and died.
        let adapter = fixture.config.adapterDirectory(job: tuned.id)
        try FileManager.default.createDirectory(at: adapter, withIntermediateDirectories: true)
        try Data(#"{"job_id": "\#(tuned.id)", "format": "dptune-model-card/1"}"#.utf8)
            .write(to: adapter.appendingPathComponent("model_card.json"))
        _ = try await jobs.startNext()
        _ = try await jobs.startNext()
        try ledger.commit(job: tuned.id)
        try ledger.commit(job: unpublished.id)

        let reopened = try JobStore(stateDirectory: fixture.config.paths.stateDirectory)
        _ = try await JobReconciliation.reconcile(
            ledger: ledger, jobs: reopened, spool: spool, adapterDirectory: fixture.config.adapterDirectory(job:),
            logger: DaemonFixture.logger)
        #expect(await reopened.job(id: tuned.id)?.state == .succeeded)
        #expect(await reopened.job(id: tuned.id)?.adapterPath == adapter.path)
        let result = try Self.result("tuned.result.json", fixture)
        #expect(result["state"] as? String == "succeeded")
        #expect(result["job_id"] as? String == tuned.id)
        #expect(result["adapter_path"] as? String == adapter.path)
        // A card that cannot be read as one leaves the ε the charge was calibrated to, and no accuracy.
        #expect(result["epsilon"] as? Double == tuned.epsilon && result["target_epsilon"] as? Double == tuned.epsilon)
        #expect(result["accuracy"] == nil)
        // No card naming the job where its worker publishes: no adapter is claimed.
        #expect(await reopened.job(id: unpublished.id)?.state == .succeeded)
        #expect(await reopened.job(id: unpublished.id)?.adapterPath == nil)
        #expect(try Self.result("unpublished.result.json", fixture)["adapter_path"] == nil)
    }
}
