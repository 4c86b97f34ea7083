// SPDX-License-Identifier: Apache-2.0
import GRDB
import Privacy

/// The checks a ledger file must pass before the daemon trusts it.
///
/// Each check has a name that the error carries (``LedgerError/failedCheck``), so an
/// operator can tell a damaged page (`sqlite integrity_check`) from a hand-edited row
/// (`account totals`, `charge audit`, `job audit`, `job charges`, `append-only triggers`).
enum LedgerIntegrity {
    static func inspectionHint(_ path: String) -> String {
        """
        Inspect it with `sqlite3 \(path) 'PRAGMA integrity_check'`, \
        `sqlite3 \(path) 'SELECT * FROM audit ORDER BY id'` and \
        `sqlite3 \(path) 'SELECT id, job_id, account, task, state, curve FROM charges ORDER BY id'`, \
        then restore it from a backup. Never delete it: the budget it records would be forgotten.
        """
    }

    static func failure(_ check: String, _ detail: String, path: String) -> LedgerError {
        LedgerError(
            .integrityCheckFailed,
            "privacy ledger \(path) fails the integrity check '\(check)': \(detail); refusing to open it. \(inspectionHint(path))",
            failedCheck: check)
    }

    /// SQLite's own checks: page structure and foreign keys. Run before any migration.
    static func verifyFile(_ db: Database, path: String) throws {
        let results: [String]
        let danglingReferences: [Row]
        do {
            results = try String.fetchAll(db, sql: "PRAGMA integrity_check")
            danglingReferences = try Row.fetchAll(db, sql: "PRAGMA foreign_key_check")
        } catch {
            throw failure("sqlite integrity_check", "\(error)", path: path)
        }
        guard results == ["ok"] else {
            throw failure("sqlite integrity_check", results.prefix(5).joined(separator: "; "), path: path)
        }
        if let first = danglingReferences.first {
            let table: String = first["table"]
            let rowID: Int64? = first["rowid"]
            throw failure(
                "foreign keys",
                "\(danglingReferences.count) row(s) reference missing rows, e.g. \(table) rowid \(rowID.map(String.init) ?? "?")",
                path: path)
        }
    }

    /// The ledger's own invariants, which hold after every committed transaction.
    static func verifyInvariants(_ db: Database, path: String) throws {
        do {
            try checkInvariants(db, path: path)
        } catch let error as LedgerError where error.code == .integrityCheckFailed && error.failedCheck != nil
            && !error.message.contains(inspectionHint(path)) {
            // A row that does not even decode (AccountRow, LedgerJSON) gets the same advice.
            throw failure(error.failedCheck ?? "json columns", error.message, path: path)
        } catch let error as DatabaseError {
            throw failure("sqlite", "\(error)", path: path)
        }
    }

    private static func checkInvariants(_ db: Database, path: String) throws {
        let triggers = Set(try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'trigger'"))
        let missing = LedgerSchema.requiredTriggers.filter { !triggers.contains($0) }
        guard missing.isEmpty else {
            throw failure(
                "append-only triggers",
                "the trigger(s) \(missing.joined(separator: ", ")) protecting charges and the audit log are missing, so rows may have been edited",
                path: path)
        }
        try verifyJobCharges(db, path: path)
        try verifyChargeAudit(db, path: path)
        try verifyJobAudit(db, path: path)
        try verifyAccountTotals(db, path: path)
    }

    /// Every job has at least one charge, at most one per task, on its own account, and
    /// its charges are reserved exactly while it is admitted.
    private static func verifyJobCharges(_ db: Database, path: String) throws {
        if let job = try String.fetchOne(db, sql: """
            SELECT id FROM jobs WHERE NOT EXISTS (SELECT 1 FROM charges WHERE job_id = jobs.id) LIMIT 1
            """) {
            throw failure("job charges", "job \(job) has no charge", path: path)
        }
        if let row = try Row.fetchOne(db, sql: """
            SELECT job_id, task, count(*) AS n FROM charges
            GROUP BY job_id, ifnull(task, '') HAVING n > 1 LIMIT 1
            """) {
            let job: String = row["job_id"]
            let task: String? = row["task"]
            let count: Int = row["n"]
            throw failure(
                "job charges", "job \(job) has \(count) charges for \(task.map { "task \($0)" } ?? "its single task")",
                path: path)
        }
        if let row = try Row.fetchOne(db, sql: """
            SELECT c.id, c.job_id FROM charges c JOIN jobs j ON j.id = c.job_id
            WHERE c.account != j.account OR (j.state = 'admitted') != (c.state = 'reserved') LIMIT 1
            """) {
            let charge: Int64 = row["id"]
            let job: String = row["job_id"]
            throw failure(
                "job charges", "charge \(charge) disagrees with its job \(job) on the account or on being final",
                path: path)
        }
    }

    /// Every charge has exactly one `charge.reserve` audit row, and one `charge.commit`
    /// row iff it is committed.
    private static func verifyChargeAudit(_ db: Database, path: String) throws {
        if let row = try Row.fetchOne(db, sql: """
            SELECT id, job_id, state, reserves, commits FROM (
                SELECT c.id, c.job_id, c.state,
                    (SELECT count(*) FROM audit a WHERE a.charge_id = c.id AND a.operation = 'charge.reserve') AS reserves,
                    (SELECT count(*) FROM audit a WHERE a.charge_id = c.id AND a.operation = 'charge.commit') AS commits
                FROM charges c)
            WHERE reserves != 1 OR commits != (state = 'committed') LIMIT 1
            """) {
            let charge: Int64 = row["id"]
            let job: String = row["job_id"]
            let state: String = row["state"]
            let reserves: Int = row["reserves"]
            let commits: Int = row["commits"]
            throw failure(
                "charge audit",
                "charge \(charge) of job \(job) is \(state) but has \(reserves) reserve and \(commits) commit audit row(s)",
                path: path)
        }
    }

    /// Every job has exactly one `job.admit` audit row, and one final row (`job.succeed`,
    /// `job.fail` or `job.cancel`) iff it is finished.
    private static func verifyJobAudit(_ db: Database, path: String) throws {
        if let row = try Row.fetchOne(db, sql: """
            SELECT id, state, admits, finals FROM (
                SELECT j.id, j.state,
                    (SELECT count(*) FROM audit a WHERE a.job_id = j.id AND a.operation = 'job.admit') AS admits,
                    (SELECT count(*) FROM audit a WHERE a.job_id = j.id
                        AND a.operation IN ('job.succeed', 'job.fail', 'job.cancel')) AS finals
                FROM jobs j)
            WHERE admits != 1 OR finals != (state != 'admitted') LIMIT 1
            """) {
            let job: String = row["id"]
            let state: String = row["state"]
            let admits: Int = row["admits"]
            let finals: Int = row["finals"]
            throw failure(
                "job audit", "job \(job) is \(state) but has \(admits) admit and \(finals) final audit row(s)", path: path)
        }
    }

    /// Each account's stored composed curve equals the sum of its charges' curves, added
    /// in charge order (as admission adds them, so the match is exact).
    private static func verifyAccountTotals(_ db: Database, path: String) throws {
        for account in try AccountRow.fetchAll(db) {
            var sum = Array(repeating: 0.0, count: account.orders.count)
            let rows = try Row.fetchCursor(
                db, sql: "SELECT id, event, curve FROM charges WHERE account = ? ORDER BY id", arguments: [account.name])
            var count = 0
            while let row = try rows.next() {
                let id: Int64 = row["id"]
                _ = try LedgerJSON.decode(DpEvent.self, from: row["event"], column: "charges.event of charge \(id)")
                let curve = try LedgerJSON.decode([Double].self, from: row["curve"], column: "charges.curve of charge \(id)")
                guard curve.count == sum.count else {
                    throw failure(
                        "account totals",
                        "charge \(id) has a curve of \(curve.count) values, account \(account.name) has \(sum.count) orders",
                        path: path)
                }
                sum = add(sum, curve)
                count += 1
            }
            if let i = sum.indices.first(where: { sum[$0] != account.composedCurve[$0] }) {
                throw failure(
                    "account totals",
                    "account \(account.name) stores ρ(α = \(account.orders[i])) = \(account.composedCurve[i]) but its \(count) charge(s) sum to \(sum[i])",
                    path: path)
            }
        }
    }
}
