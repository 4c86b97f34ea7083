// SPDX-License-Identifier: Apache-2.0
@testable import Daemon
import Foundation
import Records
import Testing

@Suite struct LedgerAdmissionPolicyTests {
    /// Only a refusal of the budget is `budget_exhausted`; a ledger that cannot answer for
    /// another reason (here: a job id it has already admitted) says so, so a data owner is
    /// never told their budget is gone when it is not.
    @Test func onlyABudgetRefusalIsBudgetExhausted() throws {
        let fixture = try DaemonFixture()
        let ledger = try fixture.openLedger()
        var defaults = fixture.config.defaults
        defaults.account = "acme"
        let manifest = try Manifest.parse(Data(DaemonFixture.manifest(account: "acme").utf8), defaults: defaults)
        let dataset = DatasetSummary(sha256: String(repeating: "ab", count: 32), byteCount: 1_000, recordCount: 200,
                                     unitCount: 0, taskCounts: ["sentiment": 200], privacyUnitCount: 200)
        func policy() throws -> LedgerAdmissionPolicy {
            try LedgerAdmissionPolicy(backbones: ["tiny"], strategies: ["lora"], ledger: ledger,
                                      spoolName: "reviews.jsonl", heldOutFraction: 0.1, jobID: "job-1")
        }
        let first = try policy()
        try first.admit(account: "acme", manifest: manifest, dataset: dataset)
        #expect(first.admitted?.jobID == "job-1")

        let again = #expect(throws: IntakeError.self) { try policy().admit(account: "acme", manifest: manifest, dataset: dataset) }
        #expect(again?.code == .admissionFailed)

        let poor = try Manifest.parse(Data(DaemonFixture.manifest(account: "poor", epsilon: 4).utf8), defaults: defaults)
        let refused = #expect(throws: IntakeError.self) {
            try LedgerAdmissionPolicy(backbones: ["tiny"], strategies: ["lora"], ledger: ledger, spoolName: "big.jsonl",
                                      heldOutFraction: 0.1, jobID: "job-2").admit(account: "poor", manifest: poor, dataset: dataset)
        }
        #expect(refused?.code == .budgetExhausted)
    }
}
