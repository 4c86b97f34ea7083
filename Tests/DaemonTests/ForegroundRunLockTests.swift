// SPDX-License-Identifier: Apache-2.0
@testable import Daemon
import Foundation
import Ledger
import Spool
import Testing
import TestSupport

/// A foreground run's lock says whether the run that made an admission still lives.
@Suite struct ForegroundRunLockTests {
    @Test func aHeldLockIsRunningAReleasedOneGoneADroppedOneEnded() throws {
        let directory = try TemporaryDirectory(prefix: "dptune-run-lock")
        let ledger = directory.url.appendingPathComponent("ledger.sqlite")
        try Data().write(to: ledger)
        var lock: ForegroundRunLock? = try ForegroundRunLock(jobID: "local-1", ledger: ledger)
        #expect(ForegroundRunLock.holder(of: "local-1", ledger: ledger) == .running)
        #expect(ForegroundRunLock.holder(of: "local-2", ledger: ledger) == .unknown)
        lock = nil
        #expect(ForegroundRunLock.holder(of: "local-1", ledger: ledger) == .ended)

        let settled = try ForegroundRunLock(jobID: "local-3", ledger: ledger)
        settled.release()
        #expect(ForegroundRunLock.holder(of: "local-3", ledger: ledger) == .unknown)
        _ = lock
    }

    /// The daemon and a run may name the ledger through a link or a relative path.
    @Test func aLinkToTheLedgerFindsTheSameLock() throws {
        let directory = try TemporaryDirectory(prefix: "dptune-run-lock")
        let ledger = directory.url.appendingPathComponent("ledger.sqlite")
        try Data().write(to: ledger)
        let link = directory.url.appendingPathComponent("linked.sqlite")
        try FileManager.default.createSymbolicLink(at: link, withDestinationURL: ledger)
        let lock = try ForegroundRunLock(jobID: "local-1", ledger: link)
        #expect(ForegroundRunLock.holder(of: "local-1", ledger: ledger) == .running)
        #expect(FileManager.default.fileExists(atPath: directory.url.appendingPathComponent("ledger.sqlite.runs/local-1.lock").path))
        lock.release()
    }

    /// At start-up the daemon fails a foreground admission whose run died unsettled, and
    /// leaves alone one whose run lives and one made before these locks existed.
    @Test func theDaemonFailsOnlyTheAdmissionOfARunThatDied() async throws {
        let fixture = try DaemonFixture()
        let ledger = try fixture.openLedger()
        let ledgerFile = fixture.config.paths.ledger
        for id in ["local-alive", "local-dead", "local-old"] {
            _ = try ledger.admit(AdmissionRequest(
                jobID: id, account: "acme",
                dataset: .init(sha256: String(repeating: "0", count: 64), spoolName: "\(id).jsonl", recordCount: 100),
                strategy: "lora", charges: [.init(event: .gaussian(noiseMultiplier: 5))]))
        }
        let alive = try ForegroundRunLock(jobID: "local-alive", ledger: ledgerFile)
        var dead: ForegroundRunLock? = try ForegroundRunLock(jobID: "local-dead", ledger: ledgerFile)
        dead = nil
        // A run killed before its admission, and one settled but killed before removing its
        // file, leave free files with no admitted job; a run about to be admitted holds one.
        var unadmitted: ForegroundRunLock? = try ForegroundRunLock(jobID: "local-unadmitted", ledger: ledgerFile)
        unadmitted = nil
        let admitting = try ForegroundRunLock(jobID: "local-admitting", ledger: ledgerFile)
        let chargesBefore = try ledger.charges()

        let spool = try SpoolDirectory(root: fixture.config.paths.spool)
        let jobs = try JobStore(stateDirectory: fixture.config.paths.stateDirectory)
        let changed = try await JobReconciliation.reconcile(
            ledger: ledger, jobs: jobs, spool: spool, adapterDirectory: fixture.config.adapterDirectory(job:),
            logger: DaemonFixture.logger).changed
        #expect(changed == ["local-dead"])
        let failed = try ledger.job(id: "local-dead")
        #expect(failed.state == .failed)
        #expect(failed.reason?.contains("foreground run (dptuned train --ledger) ended without settling it") == true)
        #expect(ForegroundRunLock.holder(of: "local-dead", ledger: ledgerFile) == .unknown)
        #expect(try ledger.job(id: "local-alive").state == .admitted)
        #expect(try ledger.job(id: "local-old").state == .admitted)
        #expect(try ledger.charges().map(\.id) == chargesBefore.map(\.id))
        #expect(await jobs.all().isEmpty)
        #expect(ForegroundRunLock.holder(of: "local-unadmitted", ledger: ledgerFile) == .unknown)
        #expect(ForegroundRunLock.holder(of: "local-admitting", ledger: ledgerFile) == .running)
        alive.release()
        admitting.release()
        _ = (dead, unadmitted)
    }
}
