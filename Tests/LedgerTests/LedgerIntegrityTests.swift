// SPDX-License-Identifier: Apache-2.0
import Foundation
import GRDB
import Ledger
import Privacy
import Testing

/// Each test damages a ledger the way a hand edit or a bad disk would, then checks that
/// opening it is refused with the failed check named and the way to inspect the file.
@Suite struct LedgerIntegrityTests {
    /// A ledger with two finished jobs and one admitted job, closed.
    static func populated() throws -> TemporaryLedger {
        let ledger = try TemporaryLedger()
        let store = try ledger.open(accounts: """
            [accounts.clinic]
            epsilon = 50
            delta = 1e-6
            """)
        for (index, sigma) in [2.0, 3.5, 5.0].enumerated() {
            try store.admit(TemporaryLedger.request("j\(index)", account: "clinic", event: .gaussian(noiseMultiplier: sigma)))
        }
        try store.commit(job: "j0")
        try store.fail(job: "j1", reason: "out of memory")
        return ledger
    }

    static func expectRefusal(_ ledger: TemporaryLedger, check: String) throws {
        let error = try #require(throws: LedgerError.self) {
            try LedgerStore(path: ledger.path, curveEvaluator: ClosedFormRDP.evaluator)
        }
        #expect(error.code == .integrityCheckFailed)
        #expect(error.failedCheck == check, "\(error)")
        #expect(error.message.contains("sqlite3 \(ledger.path) 'PRAGMA integrity_check'"))
        #expect(error.message.contains("'\(check)'"))
    }

    static func tamper(_ ledger: TemporaryLedger, _ sql: String) throws {
        try DatabaseQueue(path: ledger.path).write { db in try db.execute(sql: sql) }
    }

    @Test func untouchedLedgerOpens() throws {
        let ledger = try Self.populated()
        let store = try LedgerStore(path: ledger.path, curveEvaluator: ClosedFormRDP.evaluator)
        #expect(try store.account(named: "clinic").jobCount == 3)
    }

    @Test func editedTotalsAreRefused() throws {
        let ledger = try Self.populated()
        let zeros = Array(repeating: "0", count: PrivacyFilter.defaultOrders.count).joined(separator: ",")
        try Self.tamper(ledger, "UPDATE accounts SET composed_curve = '[\(zeros)]'")
        try Self.expectRefusal(ledger, check: "account totals")
    }

    @Test func chargeEditedBehindTheTriggersIsRefused() throws {
        let ledger = try Self.populated()
        let half = PrivacyFilter.defaultOrders.map { "\($0 / 16)" }.joined(separator: ",")
        try Self.tamper(ledger, """
            DROP TRIGGER charges_only_commit;
            UPDATE charges SET curve = '[\(half)]' WHERE job_id = 'j0';
            CREATE TRIGGER charges_only_commit BEFORE UPDATE ON charges
            BEGIN SELECT RAISE(ABORT, 'restored by the tamperer'); END;
            """)
        try Self.expectRefusal(ledger, check: "account totals")
    }

    @Test func deletedAuditRowsAreRefused() throws {
        let ledger = try Self.populated()
        try Self.tamper(ledger, """
            DROP TRIGGER audit_append_only_delete;
            DELETE FROM audit WHERE operation = 'charge.reserve' AND job_id = 'j2';
            CREATE TRIGGER audit_append_only_delete BEFORE DELETE ON audit
            BEGIN SELECT RAISE(ABORT, 'the ledger audit log is append-only'); END;
            """)
        try Self.expectRefusal(ledger, check: "charge audit")
    }

    @Test func forgedJobFinishIsRefused() throws {
        let ledger = try Self.populated()
        try Self.tamper(ledger, """
            INSERT INTO audit (at, operation, account, job_id, detail)
            SELECT at, 'job.succeed', account, job_id, '{}' FROM audit WHERE job_id = 'j2' LIMIT 1
            """)
        try Self.expectRefusal(ledger, check: "job audit")
    }

    @Test func droppedTriggerIsRefused() throws {
        let ledger = try Self.populated()
        try Self.tamper(ledger, "DROP TRIGGER charges_never_deleted")
        try Self.expectRefusal(ledger, check: "append-only triggers")
    }

    @Test func jobWithoutChargeIsRefused() throws {
        let ledger = try Self.populated()
        try Self.tamper(ledger, """
            INSERT INTO jobs (id, account, dataset_id, strategy, state, admitted_at)
            SELECT 'free-ride', account, dataset_id, strategy, 'admitted', admitted_at FROM jobs LIMIT 1
            """)
        try Self.expectRefusal(ledger, check: "job charges")
    }

    @Test func uncommittedChargeOfFinishedJobIsRefused() throws {
        let ledger = try Self.populated()
        try Self.tamper(ledger, "UPDATE jobs SET state = 'succeeded' WHERE id = 'j2'")
        try Self.expectRefusal(ledger, check: "job charges")
    }

    @Test func damagedPagesAreRefused() throws {
        let ledger = try Self.populated()
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: ledger.path))
        let size = try handle.seekToEnd()
        #expect(size >= 4 * 4096)
        try handle.seek(toOffset: 2 * 4096)
        handle.write(Data(repeating: 0xa5, count: Int(size) - 2 * 4096))
        try handle.close()
        try Self.expectRefusal(ledger, check: "sqlite integrity_check")
    }
}
