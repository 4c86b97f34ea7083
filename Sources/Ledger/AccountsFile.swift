// SPDX-License-Identifier: Apache-2.0
import Foundation
import Privacy
import TOMLKit

/// The privacy officer's budgets, as written in `accounts.toml`.
///
/// ```toml
/// [accounts.hospital-a]
/// epsilon = 8.0          # ε cap, > 0
/// delta = 1e-5           # δ cap, in (0, 1)
/// orders = [2, 4, 8]     # optional RDP orders Λ, each in (1, 10000], increasing; fixed at creation
/// ```
///
/// Names are lower-case letters, digits, `.`, `_` and `-`, starting with a letter or a
/// digit (at most 64), so two spellings can never name one account. Anything else — an
/// unknown key, a wrong type, a value out of range, a repeated table — is refused with
/// its line.
public struct AccountsFile: Sendable, Hashable {
    public struct Account: Sendable, Hashable {
        public let name: String
        public let epsilon: Double
        public let delta: Double
        /// The orders Λ for a new account; `nil` means ``PrivacyFilter/defaultOrders``.
        public let orders: [Double]?
        /// The line of the account's table header.
        public let line: Int
        let epsilonLine: Int
        let deltaLine: Int
        let ordersLine: Int
    }

    /// Where the text came from, for messages.
    public let path: String
    /// The accounts, in the order the file writes them.
    public let accounts: [Account]

    /// Reads and checks `url`.
    ///
    /// - Throws: ``LedgerError`` `.invalidAccountsFile`.
    public init(contentsOf url: URL) throws {
        let source: String
        do {
            source = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw LedgerError(.invalidAccountsFile, "cannot read \(url.path) as UTF-8 text: \(error)")
        }
        try self.init(parsing: source, path: url.path)
    }

    /// Checks the text of an accounts file.
    ///
    /// - Throws: ``LedgerError`` `.invalidAccountsFile` with ``LedgerError/sourceLine``
    ///   set whenever the fault has a line.
    public init(parsing source: String, path: String = "accounts.toml") throws {
        self.path = path
        let lines = TOMLKeyLines(source)
        func refuse(_ keyPath: [String], _ message: String) -> LedgerError {
            let line = lines.line(of: keyPath)
            return LedgerError(
                .invalidAccountsFile, "\(path):\(line.map { "\($0):" } ?? "") \(message)", sourceLine: line)
        }

        let root: TOMLTable
        do {
            root = try TOMLTable(string: source)
        } catch let error as TOMLParseError {
            let at = error.source.begin
            throw LedgerError(
                .invalidAccountsFile, "\(path):\(at.line):\(at.column): \(error.description)", sourceLine: at.line)
        }
        for key in root.keys where key != "accounts" {
            throw refuse([key], "unknown top-level key \(key.debugDescription); the file holds only [accounts.NAME] tables")
        }
        guard let accountsValue = root["accounts"] else {
            accounts = []
            return
        }
        guard let table = accountsValue.table else {
            throw refuse(["accounts"], "accounts must be a table of [accounts.NAME] tables; found a \(accountsValue.type)")
        }
        var parsed: [Account] = []
        for name in table.keys {
            let keyPath = ["accounts", name]
            guard Self.isValidName(name) else {
                throw refuse(keyPath, "account name \(name.debugDescription) must be 1–64 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit")
            }
            guard let entry = table[name]?.table else {
                throw refuse(keyPath, "accounts.\(name) must be a table with epsilon and delta")
            }
            for key in entry.keys where !["epsilon", "delta", "orders"].contains(key) {
                throw refuse(keyPath + [key], "unknown key \(key.debugDescription) in accounts.\(name); allowed: epsilon, delta, orders")
            }
            func number(_ key: String) throws -> Double {
                guard let value = entry[key] else {
                    throw refuse(keyPath, "accounts.\(name) has no \(key)")
                }
                guard let number = value.double ?? value.int.map(Double.init) else {
                    throw refuse(keyPath + [key], "accounts.\(name).\(key) must be a number; found a \(value.type)")
                }
                return number
            }
            let epsilon = try number("epsilon")
            guard epsilon.isFinite, epsilon > 0 else {
                throw refuse(keyPath + ["epsilon"], "accounts.\(name).epsilon must be a finite number > 0; found \(epsilon)")
            }
            let delta = try number("delta")
            guard delta > 0, delta < 1 else {
                throw refuse(keyPath + ["delta"], "accounts.\(name).delta must be in (0, 1); found \(delta)")
            }
            var orders: [Double]?
            if let value = entry["orders"] {
                orders = try Self.orders(value) { refuse(keyPath + ["orders"], "accounts.\(name).orders \($0)") }
            }
            parsed.append(Account(
                name: name, epsilon: epsilon, delta: delta, orders: orders,
                line: lines.line(of: keyPath) ?? 0,
                epsilonLine: lines.line(of: keyPath + ["epsilon"]) ?? 0,
                deltaLine: lines.line(of: keyPath + ["delta"]) ?? 0,
                ordersLine: lines.line(of: keyPath + ["orders"]) ?? 0))
        }
        accounts = parsed.sorted { ($0.line, $0.name) < ($1.line, $1.name) }
    }

    private static func isValidName(_ name: String) -> Bool {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789._-")
        guard let first = name.first, name.count <= 64, first.isLetter || first.isNumber else { return false }
        return name.allSatisfy(allowed.contains)
    }

    private static func orders(
        _ value: TOMLValueConvertible, refuse: (String) -> LedgerError
    ) throws -> [Double] {
        guard let array = value.array else { throw refuse("must be an array of numbers; found a \(value.type)") }
        var orders: [Double] = []
        for element in array {
            guard let order = element.double ?? element.int.map(Double.init) else {
                throw refuse("must hold numbers only; found a \(element.type)")
            }
            guard RDPAccountant.isValidOrder(order) else {
                throw refuse("must each be > 1 and at most \(Int(RDPAccountant.maximumOrder)) (RDPAccountant.maximumOrder); found \(order)")
            }
            guard orders.last.map({ $0 < order }) ?? true else {
                throw refuse("must be strictly increasing; found \(order) after \(orders.last ?? 0)")
            }
            orders.append(order)
        }
        guard (1...64).contains(orders.count) else { throw refuse("must hold 1 to 64 orders; found \(orders.count)") }
        return orders
    }
}
