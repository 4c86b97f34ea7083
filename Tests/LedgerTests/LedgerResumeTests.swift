// SPDX-License-Identifier: Apache-2.0
import Foundation
import Ledger
import Privacy
import Testing

@Suite struct LedgerResumeTests {
    static let accounts = """
        [accounts.hospital-a]
        epsilon = 1000.0
        delta = 1e-5

        [accounts.hospital-b]
        epsilon = 1000.0
        delta = 1e-5
        """

    /// A `projected` job: two task charges, so their order counts too.
    static let admitted = TemporaryLedger.request("j-orphan", account: "hospital-a", [
        .init(task: "sentiment", event: .selfComposed(event: .gaussian(noiseMultiplier: 9.1), count: 50)),
        .init(task: "topic", event: .selfComposed(event: .gaussian(noiseMultiplier: 4.4), count: 50)),
    ])

    /// What the ledger holds that a resumption must leave alone.
    struct Snapshot: Equatable {
        let charges: [ChargeRecord]
        let accounts: [AccountSummary]
        let jobs: [JobRecord]
        let auditCount: Int

        init(_ store: LedgerStore) throws {
            charges = try store.charges()
            accounts = try store.accounts()
            jobs = try store.unfinishedJobs()
            auditCount = try store.auditLog().count
        }
    }

    @Test func theSameRequestResumesTheAdmissionWithoutChargingAgain() throws {
        let ledger = try TemporaryLedger()
        let store = try ledger.open(accounts: Self.accounts)
        let admission = try store.admit(Self.admitted)
        let before = try Snapshot(store)

        let resumed = try store.resume(Self.admitted)
        #expect(resumed == admission)
        let after = try Snapshot(store)
        #expect(after.charges == before.charges)
        #expect(after.accounts == before.accounts)
        #expect(after.jobs == before.jobs)
        #expect(try store.job(id: "j-orphan").state == .admitted)
        let audit = try store.auditLog()
        #expect(audit.count == before.auditCount + 1)
        #expect(audit.last?.operation == "job.resume")
        #expect(audit.last?.jobID == "j-orphan")
        // Still an admitted job like any other: it finishes once, keeping its charges.
        try store.commit(job: "j-orphan")
        #expect(try store.charges().allSatisfy { $0.state == .committed })
    }

    static let changes: [(String, @Sendable (inout AdmissionRequest) -> Void)] = [
        ("account", { $0.account = "hospital-b" }),
        ("strategy", { $0.strategy = "bitfit" }),
        ("dataset sha256", { $0.dataset.sha256 = String(repeating: "ab", count: 32) }),
        ("spool name", { $0.dataset.spoolName = "other.jsonl" }),
        ("record count", { $0.dataset.recordCount += 1 }),
        ("charge count", { $0.charges.removeLast() }),
        ("charge 2 task", { $0.charges[1].task = "intent" }),
        ("charge 1 event", { $0.charges[0].event = .selfComposed(event: .gaussian(noiseMultiplier: 9.1), count: 51) }),
        ("charge 1 task", { $0.charges.reverse() }),
    ]

    @Test(arguments: changes.indices)
    func anyDifferenceIsRefusedAndWritesNothing(change: Int) throws {
        let (field, apply) = Self.changes[change]
        let ledger = try TemporaryLedger()
        let store = try ledger.open(accounts: Self.accounts)
        try store.admit(Self.admitted)
        let before = try Snapshot(store)
        var request = Self.admitted
        apply(&request)

        let error = try #require(throws: LedgerError.self) { try store.resume(request) }
        #expect(error.code == .admissionMismatch)
        #expect(error.message.contains("with \(field) "), "\(error.message)")
        #expect(try Snapshot(store) == before)
    }

    @Test func onlyAnAdmittedJobIsResumed() throws {
        let ledger = try TemporaryLedger()
        let store = try ledger.open(accounts: Self.accounts)
        try store.admit(Self.admitted)
        try store.fail(job: "j-orphan", reason: "test")
        let before = try Snapshot(store)
        #expect(throws: LedgerError(.jobAlreadyFinished, "")) { try store.resume(Self.admitted) }
        var unknown = Self.admitted
        unknown.jobID = "j-never"
        #expect(throws: LedgerError(.unknownJob, "")) { try store.resume(unknown) }
        #expect(try Snapshot(store) == before)
    }
}
