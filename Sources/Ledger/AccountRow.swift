// SPDX-License-Identifier: Apache-2.0
import Foundation
import GRDB

/// An `accounts` row, decoded.
struct AccountRow {
    let name: String
    let epsilonCap: Double
    let deltaCap: Double
    let orders: [Double]
    let composedCurve: [Double]
    let createdAt: Date
    /// When the accounts file stopped listing the account; nil while it is open.
    let closedAt: Date?

    /// ε spent so far at the account's δ, as admission counts it.
    var epsilonSpent: Double { epsilonSpent(delta: deltaCap) }

    func epsilonSpent(delta: Double) -> Double {
        PrivacyFilter.epsilon(curve: composedCurve, orders: orders, delta: delta)
    }

    static let columns = "name, epsilon_cap, delta_cap, orders, composed_curve, created_at, closed_at"

    init(row: Row) throws {
        name = row["name"]
        epsilonCap = row["epsilon_cap"]
        deltaCap = row["delta_cap"]
        orders = try LedgerJSON.decode([Double].self, from: row["orders"], column: "accounts.orders")
        composedCurve = try LedgerJSON.decode(
            [Double].self, from: row["composed_curve"], column: "accounts.composed_curve")
        createdAt = row["created_at"]
        closedAt = row["closed_at"]
        guard orders.count == composedCurve.count else {
            throw LedgerError(
                .integrityCheckFailed,
                "account \(name) has \(orders.count) orders but a composed curve of \(composedCurve.count) values",
                failedCheck: "account totals")
        }
    }

    /// - Throws: ``LedgerError`` `.unknownAccount` naming the account and the known ones.
    static func fetch(_ db: Database, name: String) throws -> AccountRow {
        if let row = try Row.fetchOne(db, sql: "SELECT \(columns) FROM accounts WHERE name = ?", arguments: [name]) {
            return try AccountRow(row: row)
        }
        let known = try String.fetchAll(db, sql: "SELECT name FROM accounts ORDER BY name")
        throw LedgerError(
            .unknownAccount,
            "unknown account \(name.debugDescription); known accounts: \(known.isEmpty ? "none" : known.joined(separator: ", ")) (accounts come from accounts.toml)")
    }

    static func fetchAll(_ db: Database) throws -> [AccountRow] {
        try Row.fetchAll(db, sql: "SELECT \(columns) FROM accounts ORDER BY name").map(AccountRow.init(row:))
    }
}
