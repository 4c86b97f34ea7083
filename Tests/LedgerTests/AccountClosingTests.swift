// SPDX-License-Identifier: Apache-2.0
import Foundation
import GRDB
@testable import Ledger
import Privacy
import Testing

/// An account the accounts file stops listing takes no new job, keeps everything it has,
/// and opens again when listed again.
@Suite struct AccountClosingTests {
    static let both = """
        [accounts.a]
        epsilon = 8
        delta = 1e-5
        [accounts.b]
        epsilon = 8
        delta = 1e-5
        """
    static let onlyA = """
        [accounts.a]
        epsilon = 8
        delta = 1e-5
        """
    static let event = DpEvent.gaussian(noiseMultiplier: 5)

    @Test func aClosedAccountAdmitsNothingAndChargesNothing() throws {
        let ledger = try TemporaryLedger()
        let store = try ledger.open(accounts: Self.both)
        try store.admit(TemporaryLedger.request("before", account: "b", event: Self.event))
        let spent = try store.account(named: "b").epsilonSpent

        let sync = try store.syncAccounts(AccountsFile(parsing: Self.onlyA))
        #expect(sync.closed == ["b"])
        #expect(sync.unchanged == ["a"])
        let error = try #require(throws: LedgerError.self) {
            try store.admit(TemporaryLedger.request("after", account: "b", event: Self.event))
        }
        #expect(error.code == .accountClosed)
        #expect(error.message.contains("account b is closed"))
        #expect(error.message.contains("list it in the accounts file again"))
        #expect(throws: LedgerError(.unknownJob, "")) { try store.job(id: "after") }
        #expect(try store.account(named: "b").epsilonSpent == spent)
        #expect(try store.charges(account: "b").count == 1)
        #expect(try store.auditLog(account: "b").map(\.operation).suffix(2) == ["account.close", "admission.refuse"])

        // The job admitted while it was open runs on under its charge.
        try store.commit(job: "before")
        #expect(try store.job(id: "before").state == .succeeded)
        // Another open account is untouched.
        try store.admit(TemporaryLedger.request("other", account: "a", event: Self.event))
        // A file that still omits it does not close it again.
        #expect(try store.syncAccounts(AccountsFile(parsing: Self.onlyA)).closed.isEmpty)
        #expect(try store.auditLog(account: "b").filter { $0.operation == "account.close" }.count == 1)
    }

    @Test func listingItAgainReopensItWithItsSpending() throws {
        let ledger = try TemporaryLedger()
        let store = try ledger.open(accounts: Self.both)
        try store.admit(TemporaryLedger.request("first", account: "b", event: Self.event))
        let spent = try store.account(named: "b").epsilonSpent
        try store.syncAccounts(AccountsFile(parsing: Self.onlyA))

        let sync = try store.syncAccounts(AccountsFile(parsing: """
            [accounts.a]
            epsilon = 8
            delta = 1e-5
            [accounts.b]
            epsilon = 9
            delta = 1e-5
            """))
        #expect(sync.reopened == ["b"])
        #expect(sync.updated == ["b"])
        #expect(sync.created.isEmpty)
        let account = try store.account(named: "b")
        #expect(account.closedAt == nil)
        #expect(account.epsilonCap == 9)
        #expect(account.epsilonSpent == spent)
        let second = try store.admit(TemporaryLedger.request("second", account: "b", event: Self.event))
        #expect(second.epsilonSpent > spent)
        #expect(try store.auditLog(account: "b").map(\.operation).contains("account.reopen"))
    }

    /// The file is applied all or nothing: one refused cap leaves omitted accounts open.
    @Test func aRefusedFileClosesNothing() throws {
        let ledger = try TemporaryLedger()
        let store = try ledger.open(accounts: Self.both)
        try store.admit(TemporaryLedger.request("spend", account: "a", event: Self.event))
        let error = try #require(throws: LedgerError.self) {
            try store.syncAccounts(AccountsFile(parsing: """
                [accounts.a]
                epsilon = 0.01
                delta = 1e-5
                """))
        }
        #expect(error.code == .capBelowSpent)
        #expect(try store.accounts().allSatisfy { $0.closedAt == nil })
        #expect(try store.auditLog(account: "b").map(\.operation) == ["account.create"])
    }

    /// A file with no account in it (cut short while an editor rewrote it, say) is refused
    /// rather than closing every account.
    @Test(arguments: ["", "# budgets\n"])
    func aFileListingNoAccountClosesNothing(source: String) throws {
        let ledger = try TemporaryLedger()
        let store = try ledger.open(accounts: Self.both)
        let error = try #require(throws: LedgerError.self) { try store.syncAccounts(AccountsFile(parsing: source)) }
        #expect(error.code == .invalidAccountsFile)
        #expect(error.message.contains("lists no account"))
        #expect(try store.accounts().allSatisfy { $0.closedAt == nil })
        #expect(try store.auditLog().map(\.operation) == ["account.create", "account.create"])
        // A new ledger has nothing to close: the same file is fine there.
        let fresh = try TemporaryLedger().open()
        #expect(try fresh.syncAccounts(AccountsFile(parsing: source)).closed.isEmpty)
    }

    /// An admission made before the account closed, whose job the daemon never recorded,
    /// is still resumed: it was charged while the account was open.
    @Test func anAdmissionMadeBeforeClosingIsResumed() throws {
        let ledger = try TemporaryLedger()
        let store = try ledger.open(accounts: Self.both)
        let request = TemporaryLedger.request("orphan", account: "b", event: Self.event)
        let admission = try store.admit(request)
        try store.syncAccounts(AccountsFile(parsing: Self.onlyA))
        #expect(try store.resume(request) == admission)
    }

    /// A ledger written before accounts could close opens with every account open and its
    /// spending, charges and integrity as they were.
    @Test func aLedgerFromBeforeClosingOpensWithItsAccountsOpen() throws {
        let ledger = try TemporaryLedger()
        let queue = try DatabaseQueue(path: ledger.path)
        try LedgerSchema.migrator.migrate(queue, upTo: "v1")
        try queue.write { db in
            try db.execute(
                sql: """
                    INSERT INTO accounts (name, epsilon_cap, delta_cap, orders, composed_curve, created_at)
                    VALUES ('old', 10.0, 1e-5, '[2,4,8,16]', '[0,0,0,0]', '2026-11-01 10:00:00.000')
                    """)
            #expect(try !db.columns(in: "accounts").map(\.name).contains("closed_at"))
        }
        try queue.close()

        let store = try LedgerStore(path: ledger.path, curveEvaluator: ClosedFormRDP.evaluator)
        let account = try store.account(named: "old")
        #expect(account.closedAt == nil)
        #expect(account.epsilonCap == 10)
        #expect(account.orders == [2, 4, 8, 16])
        try store.admit(TemporaryLedger.request("new", account: "old", event: Self.event))
        #expect(try store.account(named: "old").epsilonSpent > 0)
    }
}
