// SPDX-License-Identifier: Apache-2.0
import Foundation
import GRDB
import Privacy

/// Read-only views for the CLI and the daemon. Each runs on one consistent snapshot.
extension LedgerStore {
    /// Every account with its cap, spending and number of jobs, by name.
    public func accounts() throws -> [AccountSummary] {
        try pool.read { db in
            try AccountRow.fetchAll(db).map { try Self.summary(db, $0) }
        }
    }

    /// - Throws: ``LedgerError`` `.unknownAccount`.
    public func account(named name: String) throws -> AccountSummary {
        try pool.read { db in try Self.summary(db, AccountRow.fetch(db, name: name)) }
    }

    /// ε the account has spent, certified at `delta` instead of the account's own δ.
    ///
    /// - Throws: ``LedgerError`` `.unknownAccount`, or `.invalidRequest` for δ ∉ (0, 1).
    public func epsilonSpent(account name: String, delta: Double) throws -> Double {
        guard delta > 0, delta < 1 else {
            throw LedgerError(.invalidRequest, "δ must be in (0, 1); found \(delta)")
        }
        return try pool.read { db in try AccountRow.fetch(db, name: name).epsilonSpent(delta: delta) }
    }

    /// Charges, newest first, of one account or of all.
    public func charges(account: String? = nil, limit: Int? = nil) throws -> [ChargeRecord] {
        try pool.read { db in
            let accounts = Dictionary(uniqueKeysWithValues: try AccountRow.fetchAll(db).map { ($0.name, $0) })
            if let account, accounts[account] == nil { _ = try AccountRow.fetch(db, name: account) }
            let rows = try Row.fetchAll(db, sql: """
                SELECT c.id, c.job_id, c.account, c.task, j.strategy, c.event, c.curve, c.state, c.reason,
                       c.reserved_at, c.committed_at
                FROM charges c JOIN jobs j ON j.id = c.job_id
                WHERE ?1 IS NULL OR c.account = ?1
                ORDER BY c.id DESC LIMIT ?2
                """, arguments: [account, limit ?? -1])
            return try rows.map { row in
                let id: Int64 = row["id"]
                let accountName: String = row["account"]
                guard let owner = accounts[accountName] else {
                    throw LedgerError(
                        .integrityCheckFailed, "charge \(id) belongs to unknown account \(accountName)",
                        failedCheck: "foreign keys")
                }
                let event = try LedgerJSON.decode(DpEvent.self, from: row["event"], column: "charges.event")
                let curve = try LedgerJSON.decode([Double].self, from: row["curve"], column: "charges.curve")
                let stateName: String = row["state"]
                guard let state = ChargeRecord.State(rawValue: stateName) else {
                    throw LedgerError(
                        .integrityCheckFailed, "charge \(id) has unknown state \(stateName)", failedCheck: "job charges")
                }
                return ChargeRecord(
                    id: id, jobID: row["job_id"], account: accountName, task: row["task"],
                    strategy: row["strategy"], event: event, mechanism: event.mechanismSummary, curve: curve,
                    epsilon: PrivacyFilter.epsilon(curve: curve, orders: owner.orders, delta: owner.deltaCap),
                    state: state, reason: row["reason"],
                    reservedAt: row["reserved_at"], committedAt: row["committed_at"])
            }
        }
    }

    /// - Throws: ``LedgerError`` `.unknownJob`.
    public func job(id: String) throws -> JobRecord {
        let jobs = try pool.read { db in try Self.jobs(db, where: "j.id = ?", [id]) }
        guard let job = jobs.first else {
            throw LedgerError(.unknownJob, "no job \(id.debugDescription) in the ledger")
        }
        return job
    }

    /// Jobs admitted but not finished: after a crash the daemon resumes or fails each one.
    public func unfinishedJobs() throws -> [JobRecord] {
        try pool.read { db in try Self.jobs(db, where: "j.state = 'admitted'", []) }
    }

    /// The audit log, oldest first, of one account or of all.
    public func auditLog(account: String? = nil) throws -> [AuditEntry] {
        try pool.read { db in
            try Row.fetchAll(db, sql: """
                SELECT id, at, operation, account, job_id, charge_id, detail FROM audit
                WHERE ?1 IS NULL OR account = ?1 ORDER BY id
                """, arguments: [account]).map { row in
                AuditEntry(
                    id: row["id"], at: row["at"], operation: row["operation"], account: row["account"],
                    jobID: row["job_id"], chargeID: row["charge_id"], detail: row["detail"])
            }
        }
    }

    /// The settings the ledger's durability rests on, as the writing connection has them,
    /// for the daemon's start-up log and for tests.
    public func storageSettings() throws -> StorageSettings {
        try pool.writeWithoutTransaction { db in
            StorageSettings(
                journalMode: try String.fetchOne(db, sql: "PRAGMA journal_mode") ?? "",
                synchronous: try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1,
                foreignKeys: try Bool.fetchOne(db, sql: "PRAGMA foreign_keys") ?? false)
        }
    }

    private static func summary(_ db: Database, _ account: AccountRow) throws -> AccountSummary {
        let jobCount = try Int.fetchOne(
            db, sql: "SELECT count(*) FROM jobs WHERE account = ?", arguments: [account.name]) ?? 0
        let spent = account.epsilonSpent
        return AccountSummary(
            name: account.name, epsilonCap: account.epsilonCap, deltaCap: account.deltaCap,
            orders: account.orders, composedCurve: account.composedCurve, epsilonSpent: spent,
            epsilonRemaining: max(0, account.epsilonCap - spent), jobCount: jobCount, createdAt: account.createdAt,
            closedAt: account.closedAt)
    }

    private static func jobs(_ db: Database, where condition: String, _ arguments: StatementArguments) throws -> [JobRecord] {
        try Row.fetchAll(db, sql: """
            SELECT j.id, j.account, j.strategy, j.state, j.reason, j.admitted_at, j.finished_at,
                   d.sha256, d.spool_name, d.record_count
            FROM jobs j JOIN datasets d ON d.id = j.dataset_id
            WHERE \(condition) ORDER BY j.admitted_at, j.id
            """, arguments: arguments).map { row in
            let state: String = row["state"]
            guard let jobState = JobRecord.State(rawValue: state) else {
                throw LedgerError(.integrityCheckFailed, "job state \(state) is unknown", failedCheck: "job charges")
            }
            return JobRecord(
                id: row["id"], account: row["account"], strategy: row["strategy"],
                datasetSHA256: row["sha256"], spoolName: row["spool_name"], recordCount: row["record_count"],
                state: jobState, reason: row["reason"], admittedAt: row["admitted_at"], finishedAt: row["finished_at"])
        }
    }
}

/// How the ledger's writing connection stores data.
public struct StorageSettings: Sendable, Hashable, Codable {
    /// `wal`: readers never block the writer and see committed snapshots.
    public let journalMode: String
    /// SQLite's `PRAGMA synchronous`: 2 (FULL) syncs the log at every commit.
    public let synchronous: Int
    public let foreignKeys: Bool
}
