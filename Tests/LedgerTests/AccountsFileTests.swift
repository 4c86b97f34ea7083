// SPDX-License-Identifier: Apache-2.0
import Foundation
import Ledger
import Testing
import TestSupport

@Suite struct AccountsFileTests {
    @Test func shippedExampleParses() throws {
        let url = SharedFixtures.packageRoot.appendingPathComponent("etc/dptune/accounts.toml")
        let file = try AccountsFile(contentsOf: url)
        #expect(!file.accounts.isEmpty)
        for account in file.accounts {
            #expect(account.epsilon > 0)
            #expect(account.delta > 0 && account.delta < 1)
        }
    }

    @Test func parsesCapsOrdersAndLines() throws {
        let file = try AccountsFile(parsing: """
            # budgets
            [accounts.hospital-a]
            epsilon = 8
            delta = 1e-5

            [accounts.lab_2]
            delta = 1e-6
            epsilon = 0.5
            orders = [2, 4.5, 8]
            """)
        #expect(file.accounts.map(\.name) == ["hospital-a", "lab_2"])
        #expect(file.accounts[0].epsilon == 8)
        #expect(file.accounts[0].delta == 1e-5)
        #expect(file.accounts[0].orders == nil)
        #expect(file.accounts[0].line == 2)
        #expect(file.accounts[1].orders == [2, 4.5, 8])
        #expect(file.accounts[1].line == 6)
    }

    /// Each bad file, and the line that must be named.
    /// The largest order the accountant prices is accepted; one above it is refused (below).
    @Test func acceptsOrdersUpToTheLimit() throws {
        let file = try AccountsFile(parsing: "[accounts.a]\nepsilon = 1.0\ndelta = 1e-5\norders = [1.01, 10000]\n")
        #expect(file.accounts[0].orders == [1.01, 10000])
    }

    @Test(arguments: [
        ("negative epsilon", "[accounts.a]\nepsilon = -1.0\ndelta = 1e-5\n", 2),
        ("zero epsilon", "[accounts.a]\ndelta = 1e-5\nepsilon = 0\n", 3),
        ("infinite epsilon", "[accounts.a]\nepsilon = inf\ndelta = 1e-5\n", 2),
        ("delta of one", "[accounts.a]\nepsilon = 1.0\ndelta = 1.0\n", 3),
        ("zero delta", "[accounts.a]\nepsilon = 1.0\ndelta = 0.0\n", 3),
        ("negative delta", "[accounts.a]\nepsilon = 1.0\n\n\ndelta = -1e-5\n", 5),
        ("duplicate name", "[accounts.a]\nepsilon = 1.0\ndelta = 1e-5\n\n[accounts.a]\nepsilon = 2.0\ndelta = 1e-5\n", 5),
        ("duplicate quoted name", "[accounts.b]\nepsilon = 1.0\ndelta = 1e-5\n[accounts.\"b\"]\nepsilon = 2.0\n", 4),
        ("unknown key", "[accounts.a]\nepsilon = 1.0\ndelta = 1e-5\nepsilonn = 3.0\n", 4),
        ("unknown top-level table", "[accounts.a]\nepsilon = 1.0\ndelta = 1e-5\n\n[budgets]\nx = 1\n", 5),
        ("string epsilon", "[accounts.a]\nepsilon = \"8\"\ndelta = 1e-5\n", 2),
        ("boolean delta", "[accounts.a]\nepsilon = 8.0\ndelta = true\n", 3),
        ("missing delta", "# x\n[accounts.a]\nepsilon = 8.0\n", 2),
        ("upper-case name", "[accounts.Hospital]\nepsilon = 1.0\ndelta = 1e-5\n", 1),
        ("account not a table", "accounts.a = 3\n", 1),
        ("orders not increasing", "[accounts.a]\nepsilon = 1.0\ndelta = 1e-5\norders = [2, 8, 4]\n", 4),
        ("order of one", "[accounts.a]\nepsilon = 1.0\ndelta = 1e-5\norders = [1, 2]\n", 4),
        ("order of 2^53", "[accounts.a]\nepsilon = 1.0\ndelta = 1e-5\norders = [2, 9007199254740992]\n", 4),
        ("order above the limit", "[accounts.a]\nepsilon = 1.0\ndelta = 1e-5\norders = [2, 10001]\n", 4),
        ("infinite order", "[accounts.a]\nepsilon = 1.0\ndelta = 1e-5\norders = [2, inf]\n", 4),
        ("NaN order", "[accounts.a]\nepsilon = 1.0\ndelta = 1e-5\norders = [nan]\n", 4),
        ("syntax error", "[accounts.a]\nepsilon = 1.0\ndelta = \n", 3),
        ("dotted key", "accounts.a.epsilon = 1.0\naccounts.a.delta = 2.0\n", 2),
    ])
    func badFileIsRefusedWithItsLine(name: String, source: String, line: Int) throws {
        let error = try #require(throws: LedgerError.self, "\(name)") {
            try AccountsFile(parsing: source, path: "etc/accounts.toml")
        }
        #expect(error.code == .invalidAccountsFile, "\(name)")
        #expect(error.sourceLine == line, "\(name): \(error.message)")
        #expect(error.message.hasPrefix("etc/accounts.toml:\(line):"), "\(name): \(error.message)")
    }

    @Test func syncCreatesUpdatesAndKeepsAccounts() throws {
        let ledger = try TemporaryLedger()
        let store = try ledger.open()
        let first = try store.syncAccounts(AccountsFile(parsing: """
            [accounts.a]
            epsilon = 4
            delta = 1e-5
            [accounts.b]
            epsilon = 2
            delta = 1e-6
            orders = [2, 32]
            """))
        #expect(first.created == ["a", "b"])
        #expect(try store.account(named: "b").orders == [2, 32])
        #expect(try store.account(named: "a").orders == PrivacyFilter.defaultOrders)

        let second = try store.syncAccounts(AccountsFile(parsing: """
            [accounts.a]
            epsilon = 6
            delta = 1e-5
            [accounts.c]
            epsilon = 1
            delta = 1e-5
            """))
        #expect(second.created == ["c"])
        #expect(second.updated == ["a"])
        #expect(second.closed == ["b"])
        #expect(try store.account(named: "a").epsilonCap == 6)
        #expect(try store.account(named: "a").closedAt == nil)
        #expect(try store.account(named: "b").epsilonCap == 2)
        #expect(try store.account(named: "b").closedAt != nil)
        #expect(try store.auditLog(account: "a").map(\.operation) == ["account.create", "account.update"])
    }

    @Test func loweringACapBelowSpendingChangesNothing() throws {
        let ledger = try TemporaryLedger()
        let store = try ledger.open(accounts: """
            [accounts.a]
            epsilon = 10
            delta = 1e-5
            """)
        try store.admit(TemporaryLedger.request("j", account: "a", event: .selfComposed(event: .gaussian(noiseMultiplier: 2), count: 10)))
        let spent = try store.account(named: "a").epsilonSpent
        #expect(spent > 1 && spent < 10)

        let lowered = """
            [accounts.new-one]
            epsilon = 3
            delta = 1e-5

            [accounts.a]
            epsilon = \(spent / 2)
            delta = 1e-5
            """
        let error = try #require(throws: LedgerError.self) { try store.syncAccounts(AccountsFile(parsing: lowered)) }
        #expect(error.code == .capBelowSpent)
        #expect(error.sourceLine == 6)
        #expect(error.message.contains("already spent ε = \(spent)"))
        #expect(try store.account(named: "a").epsilonCap == 10)
        #expect(try store.accounts().map(\.name) == ["a"])

        // A smaller δ also raises what was spent: checked at the new δ.
        let tighterDelta = try #require(throws: LedgerError.self) {
            try store.syncAccounts(AccountsFile(parsing: "[accounts.a]\nepsilon = \(spent)\ndelta = 1e-9\n"))
        }
        #expect(tighterDelta.code == .capBelowSpent)
        #expect(tighterDelta.sourceLine == 3)

        let changedOrders = try #require(throws: LedgerError.self) {
            try store.syncAccounts(AccountsFile(parsing: "[accounts.a]\nepsilon = 10\ndelta = 1e-5\norders = [2, 4]\n"))
        }
        #expect(changedOrders.code == .ordersChanged)
        #expect(changedOrders.sourceLine == 4)

        let raised = try store.syncAccounts(AccountsFile(parsing: "[accounts.a]\nepsilon = \(spent)\ndelta = 1e-5\n"))
        #expect(raised.updated == ["a"])
        #expect(try store.account(named: "a").epsilonRemaining == 0)
    }
}
