// SPDX-License-Identifier: Apache-2.0

/// The privacy ledger as the daemon and its tests use it.
///
/// One implementation today, ``LedgerStore`` (SQLite on the local disk). Several daemons
/// sharing one budget would put a PostgreSQL store behind the same protocol, so callers
/// depend on this seam rather than on the SQLite class.
public protocol PrivacyLedger: Sendable {
    @discardableResult
    func syncAccounts(_ file: AccountsFile) throws -> AccountsSync
    @discardableResult
    func admit(_ request: AdmissionRequest) throws -> Admission
    func commit(job id: String) throws
    func fail(job id: String, reason: String) throws
    func cancel(job id: String, reason: String) throws

    func accounts() throws -> [AccountSummary]
    func account(named name: String) throws -> AccountSummary
    func epsilonSpent(account name: String, delta: Double) throws -> Double
    func charges(account: String?, limit: Int?) throws -> [ChargeRecord]
    func job(id: String) throws -> JobRecord
    func unfinishedJobs() throws -> [JobRecord]
    func auditLog(account: String?) throws -> [AuditEntry]
}

extension LedgerStore: PrivacyLedger {}
