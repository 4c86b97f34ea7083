// SPDX-License-Identifier: Apache-2.0
import Foundation
import GRDB

/// What ``LedgerStore/syncAccounts(_:)`` did.
public struct AccountsSync: Sendable, Hashable, Codable {
    public let created: [String]
    public let updated: [String]
    public let unchanged: [String]
    /// Closed accounts that the file lists again: open to new jobs from now on, their
    /// spending as it was. Each is also in `updated` or `unchanged`, as its caps went.
    public let reopened: [String]
    /// Open accounts that the file no longer lists: closed to new jobs, and otherwise kept
    /// as they are, since an account's spending is never forgotten.
    public let closed: [String]
}

extension LedgerStore {
    /// Makes the ledger's accounts match `file`, all or nothing.
    ///
    /// New accounts are created with the file's orders (or the default ones); caps of
    /// existing accounts are updated. A cap that would put an account below what it has
    /// already spent (ε spent at the new δ above the new ε) and a change of orders are
    /// refused, and then nothing at all changes.
    ///
    /// An account the file no longer lists is closed rather than kept open: an operator who
    /// removes a data owner's account means it to take no more jobs. Its row, spending and
    /// jobs stay (nothing in the ledger is deleted), jobs already admitted run on under
    /// their charges, and listing it again reopens it with its spending intact. A file that
    /// lists no account at all is refused rather than closing every open one.
    ///
    /// - Throws: ``LedgerError`` `.capBelowSpent` or `.ordersChanged`, with the line of
    ///   the file at fault; the message lists every refused account. `.invalidAccountsFile`
    ///   for a file that lists no account while the ledger has open ones.
    @discardableResult
    public func syncAccounts(_ file: AccountsFile) throws -> AccountsSync {
        try writeImmediately { db in
            let now = Date()
            var created: [String] = [], updated: [String] = [], unchanged: [String] = []
            var reopened: [String] = [], closed: [String] = []
            var refusals: [LedgerError] = []
            let existing = Dictionary(uniqueKeysWithValues: try AccountRow.fetchAll(db).map { ($0.name, $0) })
            for spec in file.accounts {
                guard let account = existing[spec.name] else {
                    let orders = spec.orders ?? PrivacyFilter.defaultOrders
                    try db.execute(
                        sql: """
                            INSERT INTO accounts (name, epsilon_cap, delta_cap, orders, composed_curve, created_at)
                            VALUES (?, ?, ?, ?, ?, ?)
                            """,
                        arguments: [spec.name, spec.epsilon, spec.delta, try LedgerJSON.encode(orders),
                                    try LedgerJSON.encode(Array(repeating: 0.0, count: orders.count)), now])
                    try Self.appendAudit(
                        db, at: now, operation: "account.create", account: spec.name,
                        detail: AuditDetail(epsilonCap: spec.epsilon, deltaCap: spec.delta, orders: orders))
                    created.append(spec.name)
                    continue
                }
                if let orders = spec.orders, orders != account.orders {
                    refusals.append(LedgerError(
                        .ordersChanged,
                        "\(file.path):\(spec.ordersLine): account \(spec.name) was created with orders \(account.orders), which are fixed for its life (its charges are priced at them); found \(orders); refusing",
                        sourceLine: spec.ordersLine))
                    continue
                }
                if account.closedAt != nil {
                    try db.execute(sql: "UPDATE accounts SET closed_at = NULL WHERE name = ?", arguments: [spec.name])
                    try Self.appendAudit(
                        db, at: now, operation: "account.reopen", account: spec.name,
                        detail: AuditDetail(epsilonSpent: account.epsilonSpent))
                    reopened.append(spec.name)
                }
                if spec.epsilon == account.epsilonCap && spec.delta == account.deltaCap {
                    unchanged.append(spec.name)
                    continue
                }
                let spent = account.epsilonSpent(delta: spec.delta)
                guard spent <= spec.epsilon else {
                    // At fault: the δ change if the new ε alone would have been fine, else the ε.
                    let line = account.epsilonSpent <= spec.epsilon ? spec.deltaLine : spec.epsilonLine
                    refusals.append(LedgerError(
                        .capBelowSpent,
                        "\(file.path):\(line): account \(spec.name) has already spent ε = \(spent) at δ = \(spec.delta); the new cap ε = \(spec.epsilon) is below it (was ε = \(account.epsilonCap) at δ = \(account.deltaCap)); refusing, nothing changed",
                        sourceLine: line))
                    continue
                }
                try db.execute(
                    sql: "UPDATE accounts SET epsilon_cap = ?, delta_cap = ? WHERE name = ?",
                    arguments: [spec.epsilon, spec.delta, spec.name])
                try Self.appendAudit(
                    db, at: now, operation: "account.update", account: spec.name,
                    detail: AuditDetail(
                        epsilonCap: spec.epsilon, deltaCap: spec.delta, previousEpsilonCap: account.epsilonCap,
                        previousDeltaCap: account.deltaCap, epsilonSpent: spent))
                updated.append(spec.name)
            }
            if let first = refusals.first {
                throw refusals.count == 1
                    ? first
                    : LedgerError(first.code, refusals.map(\.message).joined(separator: "\n"), sourceLine: first.sourceLine)
            }
            let listed = Set(file.accounts.map(\.name))
            if listed.isEmpty, existing.values.contains(where: { $0.closedAt == nil }) {
                // Most likely a file read while an editor rewrote it in place, not a decision
                // to turn every data owner away.
                throw LedgerError(
                    .invalidAccountsFile,
                    "\(file.path): lists no account, which would close every open account; refusing it, nothing changed (a file read while it was being rewritten looks like this; to close accounts, remove their tables and keep the others)")
            }
            for account in existing.values.sorted(by: { $0.name < $1.name })
            where account.closedAt == nil && !listed.contains(account.name) {
                try db.execute(sql: "UPDATE accounts SET closed_at = ? WHERE name = ?", arguments: [now, account.name])
                try Self.appendAudit(
                    db, at: now, operation: "account.close", account: account.name,
                    detail: AuditDetail(
                        epsilonCap: account.epsilonCap, deltaCap: account.deltaCap, reason: "not in the accounts file",
                        epsilonSpent: account.epsilonSpent))
                closed.append(account.name)
            }
            return AccountsSync(
                created: created, updated: updated, unchanged: unchanged, reopened: reopened, closed: closed)
        }
    }
}
