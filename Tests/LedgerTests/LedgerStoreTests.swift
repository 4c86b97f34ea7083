// SPDX-License-Identifier: Apache-2.0
import Foundation
import GRDB
import Ledger
import Privacy
import Testing

@Suite struct LedgerStoreTests {
    static let accounts = """
        [accounts.hospital-a]
        epsilon = 1000.0
        delta = 1e-5
        """

    @Test func storeTotalsEqualTheSumOfTheEvaluatorCurves() throws {
        let ledger = try TemporaryLedger()
        let store = try ledger.open(accounts: Self.accounts)
        let events: [[AdmissionRequest.Charge]] = [
            [.init(event: .gaussian(noiseMultiplier: 1.3))],
            [.init(event: .selfComposed(event: .gaussian(noiseMultiplier: 7.7), count: 100))],
            [.init(event: .composed([.gaussian(noiseMultiplier: 3.1), .selfComposed(event: .gaussian(noiseMultiplier: 11), count: 30)]))],
            [.init(task: "sentiment", event: .selfComposed(event: .gaussian(noiseMultiplier: 9.1), count: 50)),
             .init(task: "topic", event: .selfComposed(event: .gaussian(noiseMultiplier: 4.4), count: 50))],
        ]
        let orders = PrivacyFilter.defaultOrders
        var expected = Array(repeating: 0.0, count: orders.count)
        for (index, charges) in events.enumerated() {
            try store.admit(TemporaryLedger.request("job-\(index)", account: "hospital-a", charges))
            for charge in charges {
                expected = zip(expected, try ClosedFormRDP.curve(of: charge.event, orders: orders)).map(+)
            }
        }
        let account = try store.account(named: "hospital-a")
        #expect(account.orders == orders)
        #expect(account.composedCurve == expected)
        #expect(account.jobCount == 4)
        #expect(account.epsilonSpent == PrivacyFilter.epsilon(curve: expected, orders: orders, delta: 1e-5))
        #expect(account.epsilonRemaining == 1000 - account.epsilonSpent)

        // At another δ: the same curve, certified with that δ split over the same orders.
        #expect(try store.epsilonSpent(account: "hospital-a", delta: 1e-5) == account.epsilonSpent)
        let looser = try store.epsilonSpent(account: "hospital-a", delta: 1e-3)
        #expect(looser == PrivacyFilter.epsilon(curve: expected, orders: orders, delta: 1e-3))
        #expect(looser < account.epsilonSpent)
        #expect(throws: LedgerError.self) { try store.epsilonSpent(account: "hospital-a", delta: 1) }
        #expect(throws: LedgerError.self) { try store.charges(account: "nobody") }

        // The audit log alone is enough to recompute the totals.
        struct Reservation: Decodable { let curve: [Double] }
        var replayed = Array(repeating: 0.0, count: orders.count)
        for entry in try store.auditLog(account: "hospital-a") where entry.operation == "charge.reserve" {
            let curve = try JSONDecoder().decode(Reservation.self, from: Data(entry.detail.utf8)).curve
            replayed = zip(replayed, curve).map(+)
        }
        #expect(replayed == expected)

        let charges = try store.charges(account: "hospital-a")
        #expect(charges.map(\.jobID) == ["job-3", "job-3", "job-2", "job-1", "job-0"])
        #expect(charges.map(\.task) == ["topic", "sentiment", nil, nil, nil])
        for charge in charges {
            let curve = try ClosedFormRDP.curve(of: charge.event, orders: orders)
            #expect(charge.curve == curve)
            #expect(charge.epsilon == PrivacyFilter.epsilon(curve: curve, orders: orders, delta: 1e-5))
            #expect(charge.state == .reserved)
            #expect(charge.strategy == "lora")
        }
        #expect(charges[2].mechanism == "[gaussian(σ=3.1), gaussian(σ=11.0) ×30]")
    }

    /// The cap is set to exactly what two jobs spend (read back from the ledger), so the
    /// second lands on it; one ulp less refuses it. Totals go through their JSON column.
    @Test func admissionIsExactAtTheBoundary() throws {
        let ledger = try TemporaryLedger()
        let store = try ledger.open(accounts: Self.accounts)
        let first = DpEvent.selfComposed(event: .gaussian(noiseMultiplier: 1.37), count: 3)
        let second = DpEvent.gaussian(noiseMultiplier: 0.77)
        try store.admit(TemporaryLedger.request("probe-1", account: "hospital-a", event: first))
        let spent = try store.admit(TemporaryLedger.request("probe-2", account: "hospital-a", event: second)).epsilonSpent
        #expect(try store.account(named: "hospital-a").epsilonSpent == spent)

        try store.syncAccounts(AccountsFile(parsing: """
            [accounts.exact]
            epsilon = \(spent)
            delta = 1e-5
            [accounts.short]
            epsilon = \(spent.nextDown)
            delta = 1e-5
            """))
        try store.admit(TemporaryLedger.request("exact-1", account: "exact", event: first))
        let landed = try store.admit(TemporaryLedger.request("exact-2", account: "exact", event: second))
        #expect(landed.epsilonSpent == spent)
        #expect(landed.epsilonRemaining == 0)

        try store.admit(TemporaryLedger.request("short-1", account: "short", event: first))
        let refusal = try #require(throws: LedgerError.self) {
            try store.admit(TemporaryLedger.request("short-2", account: "short", event: second))
        }
        #expect(refusal.code == .budgetExceeded)
        let short = try store.account(named: "short")
        #expect(short.jobCount == 1)
        #expect(try store.charges(account: "short").count == 1)
        #expect(throws: LedgerError.self) { try store.job(id: "short-2") }
        #expect(try store.auditLog(account: "short").last?.operation == "admission.refuse")
    }

    @Test func refusalSaysAccountCapSpentAndAsked() throws {
        let ledger = try TemporaryLedger()
        let store = try ledger.open(accounts: """
            [accounts.small]
            epsilon = 2.0
            delta = 1e-6
            """)
        let cheap = DpEvent.gaussian(noiseMultiplier: 5)
        try store.admit(TemporaryLedger.request("j1", account: "small", event: cheap))
        let spent = try store.account(named: "small").epsilonSpent
        let costly = DpEvent.selfComposed(event: .gaussian(noiseMultiplier: 2), count: 20)
        let asked = PrivacyFilter.epsilon(
            curve: try ClosedFormRDP.curve(of: costly, orders: PrivacyFilter.defaultOrders),
            orders: PrivacyFilter.defaultOrders, delta: 1e-6)
        let error = try #require(throws: LedgerError.self) {
            try store.admit(TemporaryLedger.request("j2", account: "small", event: costly))
        }
        #expect(error.code == .budgetExceeded)
        #expect(error.message.contains("account small"))
        #expect(error.message.contains("ε = 2.0 at δ = 1e-06"))
        #expect(error.message.contains("ε = \(spent) is spent so far (ε = \(2.0 - spent) remains)"))
        #expect(error.message.contains("asks for ε = \(asked)"))
        #expect(try store.account(named: "small").epsilonSpent == spent)
    }

    @Test func requestsAreCheckedBeforeAnythingIsWritten() throws {
        let ledger = try TemporaryLedger()
        let store = try ledger.open(accounts: Self.accounts)
        let gaussian = DpEvent.gaussian(noiseMultiplier: 2)
        let cases: [(AdmissionRequest, LedgerError.Code)] = [
            (TemporaryLedger.request("a", account: "nobody", event: gaussian), .unknownAccount),
            (TemporaryLedger.request("b", account: "hospital-a", []), .invalidRequest),
            (TemporaryLedger.request("c", account: "hospital-a", [.init(event: gaussian), .init(event: gaussian)]), .invalidRequest),
            (TemporaryLedger.request("d", account: "hospital-a", [.init(task: "x", event: gaussian), .init(task: "x", event: gaussian)]), .invalidRequest),
            (TemporaryLedger.request("e", account: "hospital-a", event: .nonPrivate), .invalidCurve),
            (TemporaryLedger.request("", account: "hospital-a", event: gaussian), .invalidRequest),
        ]
        for (request, code) in cases {
            let error = try #require(throws: LedgerError.self) { try store.admit(request) }
            #expect(error.code == code, "\(request.jobID): \(error)")
        }
        var badHash = TemporaryLedger.request("f", account: "hospital-a", event: gaussian)
        badHash.dataset.sha256 = "not-a-hash"
        let hashError = try #require(throws: LedgerError.self) { try store.admit(badHash) }
        #expect(hashError.code == .invalidRequest)

        try store.admit(TemporaryLedger.request("g", account: "hospital-a", event: gaussian))
        let duplicate = try #require(throws: LedgerError.self) {
            try store.admit(TemporaryLedger.request("g", account: "hospital-a", event: gaussian))
        }
        #expect(duplicate.code == .duplicateJob)
        #expect(try store.account(named: "hospital-a").jobCount == 1)
        #expect(try store.charges().count == 1)
    }

    @Test func lifecycleCommitsChargesAndRefusesIllegalTransitions() throws {
        let ledger = try TemporaryLedger()
        let store = try ledger.open(accounts: Self.accounts)
        let event = DpEvent.gaussian(noiseMultiplier: 3)
        for id in ["ok", "broken", "stopped"] {
            try store.admit(TemporaryLedger.request(id, account: "hospital-a", event: event))
        }
        #expect(try store.unfinishedJobs().map(\.id).sorted() == ["broken", "ok", "stopped"])
        let before = try store.account(named: "hospital-a").composedCurve

        try store.commit(job: "ok")
        try store.fail(job: "broken", reason: "worker crashed at step 12")
        try store.cancel(job: "stopped", reason: "cancelled by operator")

        #expect(try store.job(id: "ok").state == .succeeded)
        #expect(try store.job(id: "broken").state == .failed)
        #expect(try store.job(id: "broken").reason == "worker crashed at step 12")
        #expect(try store.job(id: "stopped").state == .cancelled)
        #expect(try store.unfinishedJobs().isEmpty)
        let charges = try store.charges()
        #expect(charges.allSatisfy { $0.state == .committed && $0.committedAt != nil })
        #expect(charges.first { $0.jobID == "broken" }?.reason == "worker crashed at step 12")
        // A failed or cancelled job keeps its charge: nothing is refunded.
        #expect(try store.account(named: "hospital-a").composedCurve == before)

        for (attempt, expected) in [
            ({ try store.commit(job: "ok") }, LedgerError.Code.jobAlreadyFinished),
            ({ try store.fail(job: "ok", reason: "late") }, .jobAlreadyFinished),
            ({ try store.commit(job: "broken") }, .jobAlreadyFinished),
            ({ try store.cancel(job: "stopped", reason: "twice") }, .jobAlreadyFinished),
            ({ try store.commit(job: "ghost") }, .unknownJob),
            ({ try store.fail(job: "ghost", reason: "?") }, .unknownJob),
        ] as [(() throws -> Void, LedgerError.Code)] {
            let error = try #require(throws: LedgerError.self) { try attempt() }
            #expect(error.code == expected, "\(error)")
        }
        #expect(try store.job(id: "ok").state == .succeeded)

        let operations = try store.auditLog(account: "hospital-a").map(\.operation)
        #expect(operations == [
            "account.create",
            "job.admit", "charge.reserve", "job.admit", "charge.reserve", "job.admit", "charge.reserve",
            "charge.commit", "job.succeed", "charge.commit", "job.fail", "charge.commit", "job.cancel",
        ])
    }

    @Test func openingRefusesMissingForeignAndNewerFiles() throws {
        let ledger = try TemporaryLedger()
        let missing = try #require(throws: LedgerError.self) {
            try LedgerStore(path: ledger.path, curveEvaluator: ClosedFormRDP.evaluator)
        }
        #expect(missing.code == .missingDatabase)
        #expect(!FileManager.default.fileExists(atPath: ledger.path))

        let garbage = ledger.directory.appendingPathComponent("garbage.sqlite").path
        try Data(repeating: 0x5a, count: 8192).write(to: URL(fileURLWithPath: garbage))
        let notSQLite = try #require(throws: LedgerError.self) {
            try LedgerStore(path: garbage, create: true, curveEvaluator: ClosedFormRDP.evaluator)
        }
        #expect(notSQLite.code == .notALedger)

        let foreign = ledger.directory.appendingPathComponent("foreign.sqlite").path
        try DatabaseQueue(path: foreign).write { db in try db.execute(sql: "CREATE TABLE t (x)") }
        let other = try #require(throws: LedgerError.self) {
            try LedgerStore(path: foreign, create: true, curveEvaluator: ClosedFormRDP.evaluator)
        }
        #expect(other.code == .notALedger)
        // Refused before anything wrote to it: still in rollback-journal mode, same tables.
        let untouched = try DatabaseQueue(path: foreign).read { db in
            (try String.fetchOne(db, sql: "PRAGMA journal_mode"), try String.fetchAll(db, sql: "SELECT name FROM sqlite_master"))
        }
        #expect(untouched.0 == "delete")
        #expect(untouched.1 == ["t"])

        do { _ = try ledger.open(accounts: Self.accounts) }
        try DatabaseQueue(path: ledger.path).write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99-from-the-future')")
        }
        let newer = try #require(throws: LedgerError.self) {
            try LedgerStore(path: ledger.path, curveEvaluator: ClosedFormRDP.evaluator)
        }
        #expect(newer.code == .newerLedger)
    }

    /// A ledger that could not be created (a full disk in the field; its WAL's name taken by
    /// a directory here) leaves no file behind: a 0-byte one refused every later start as
    /// "an empty database, not a privacy ledger", with nothing an operator could set.
    @Test func aLedgerThatCouldNotBeCreatedLeavesNothingBehind() throws {
        let ledger = try TemporaryLedger()
        try FileManager.default.createDirectory(atPath: ledger.path + "-wal", withIntermediateDirectories: false)
        #expect(throws: (any Error).self) { try LedgerStore(path: ledger.path, create: true, curveEvaluator: ClosedFormRDP.evaluator) }
        #expect(!FileManager.default.fileExists(atPath: ledger.path))
        try FileManager.default.removeItem(atPath: ledger.path + "-wal")
        _ = try LedgerStore(path: ledger.path, create: true, curveEvaluator: ClosedFormRDP.evaluator)
    }

    @Test func fileIsWALWithForeignKeysAndDurableSettings() throws {
        let ledger = try TemporaryLedger()
        let store = try ledger.open(accounts: Self.accounts)
        try store.admit(TemporaryLedger.request("j", account: "hospital-a", event: .gaussian(noiseMultiplier: 2)))
        let journal = try DatabaseQueue(path: ledger.path).read { db in
            try String.fetchOne(db, sql: "PRAGMA journal_mode")
        }
        #expect(journal == "wal")
        // The store's own writer: FULL (2) syncs the WAL at every commit.
        let settings = try store.storageSettings()
        #expect(settings.journalMode == "wal")
        #expect(settings.synchronous == 2)
        #expect(settings.foreignKeys)
        let reopened = try LedgerStore(path: ledger.path, curveEvaluator: ClosedFormRDP.evaluator)
        #expect(try reopened.account(named: "hospital-a").jobCount == 1)
    }

    @Test func protectedRowsRefuseUpdatesAndDeletes() throws {
        let ledger = try TemporaryLedger()
        let store = try ledger.open(accounts: Self.accounts)
        try store.admit(TemporaryLedger.request("j", account: "hospital-a", event: .gaussian(noiseMultiplier: 2)))
        try store.commit(job: "j")
        let raw = try DatabaseQueue(path: ledger.path)
        for sql in [
            "UPDATE audit SET operation = 'nothing'",
            "DELETE FROM audit",
            "DELETE FROM charges",
            "UPDATE charges SET curve = '[]'",
            "UPDATE charges SET state = 'reserved'",
            "DELETE FROM jobs",
            "DELETE FROM accounts",
        ] {
            #expect(throws: DatabaseError.self, "\(sql)") { try raw.write { db in try db.execute(sql: sql) } }
        }
        _ = try LedgerStore(path: ledger.path, curveEvaluator: ClosedFormRDP.evaluator)
    }

    /// Readers in other threads, through the store and through a second connection pool
    /// (as `dptunectl` would read), must only ever see whole jobs.
    @Test func concurrentReadersNeverSeeAHalfWrittenJob() throws {
        let ledger = try TemporaryLedger()
        let store = try ledger.open(accounts: Self.accounts)
        let orders = PrivacyFilter.defaultOrders
        let charges: [AdmissionRequest.Charge] = [
            .init(task: "a", event: .gaussian(noiseMultiplier: 30)),
            .init(task: "b", event: .gaussian(noiseMultiplier: 45)),
        ]
        let perJob = try charges.map { try ClosedFormRDP.curve(of: $0.event, orders: orders) }
        let jobs = 150
        // Totals after n jobs, added in the order the ledger adds them.
        var expectedTotals = [Array(repeating: 0.0, count: orders.count)]
        for _ in 0..<jobs {
            expectedTotals.append(perJob.reduce(expectedTotals.last ?? [], { zip($0, $1).map(+) }))
        }
        let totalsByJobCount = expectedTotals

        let rawPool = try DatabasePool(path: ledger.path)
        let done = Flag()
        let problems = Problems()
        let group = DispatchGroup()
        for reader in 0..<3 {
            DispatchQueue(label: "reader-\(reader)").async(group: group) {
                var snapshots = 0
                while !done.isSet || snapshots < 20 {
                    snapshots += 1
                    do {
                        let summary = try store.account(named: "hospital-a")
                        if summary.composedCurve != totalsByJobCount[summary.jobCount] {
                            problems.add("store snapshot: \(summary.jobCount) jobs but totals of another count")
                        }
                        try rawPool.read { db in
                            let orphans = try Int.fetchOne(db, sql: """
                                SELECT count(*) FROM jobs j WHERE (SELECT count(*) FROM charges c WHERE c.job_id = j.id) != 2
                                """) ?? -1
                            if orphans != 0 { problems.add("raw snapshot: \(orphans) job(s) without both charges") }
                            let jobCount = try Int.fetchOne(db, sql: "SELECT count(*) FROM jobs") ?? 0
                            let stored = try String.fetchOne(db, sql: "SELECT composed_curve FROM accounts WHERE name = 'hospital-a'") ?? ""
                            let totals = try JSONDecoder().decode([Double].self, from: Data(stored.utf8))
                            if totals != totalsByJobCount[jobCount] {
                                problems.add("raw snapshot: totals do not match \(jobCount) jobs")
                            }
                        }
                    } catch {
                        problems.add("reader failed: \(error)")
                    }
                }
            }
        }
        for index in 0..<jobs {
            try store.admit(TemporaryLedger.request("job-\(index)", account: "hospital-a", charges))
            try store.commit(job: "job-\(index)")
        }
        done.set()
        group.wait()
        #expect(problems.all.isEmpty, "\(problems.all.prefix(5))")
        #expect(try store.account(named: "hospital-a").jobCount == jobs)
    }
}

/// A one-way flag shared between threads.
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}

/// Problems seen by reader threads.
final class Problems: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []
    var all: [String] { lock.withLock { list } }
    func add(_ problem: String) { lock.withLock { list.append(problem) } }
}
