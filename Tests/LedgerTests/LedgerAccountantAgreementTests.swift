// SPDX-License-Identifier: Apache-2.0
import Foundation
import Ledger
import Privacy
import Testing

@Suite struct LedgerAccountantAgreementTests {
    /// Jobs of real DP-SGD shape (Poisson-sampled Gaussians, several steps, two tasks)
    /// composed by the ledger give exactly the curve the RDP accountant composes itself.
    @Test func ledgerCompositionEqualsTheAccountants() throws {
        let ledger = try TemporaryLedger()
        let store = try LedgerStore(path: ledger.path, create: true, curveEvaluator: LedgerStore.accountantCurves)
        try store.syncAccounts(AccountsFile(parsing: """
            [accounts.bank-b]
            epsilon = 50.0
            delta = 1e-6
            """))
        let step = { (q: Double, sigma: Double) in DpEvent.poissonSampled(probability: q, event: .gaussian(noiseMultiplier: sigma)) }
        let jobs: [[AdmissionRequest.Charge]] = [
            [.init(event: step(0.01, 1.1).repeated(500))],
            [.init(task: "sentiment", event: step(0.02, 0.9).repeated(200)),
             .init(task: "intent", event: step(0.02, 1.6).repeated(200))],
            [.init(event: .composed([step(0.05, 2.0).repeated(30), .gaussian(noiseMultiplier: 40)]))],
        ]
        for (i, charges) in jobs.enumerated() {
            try store.admit(TemporaryLedger.request("job-\(i)", account: "bank-b", charges))
        }
        let account = try store.account(named: "bank-b")
        var accountant = RDPAccountant(orders: account.orders)
        for charge in jobs.flatMap({ $0 }) { try accountant.compose(charge.event) }
        for (stored, composed) in zip(account.composedCurve, accountant.rdp) {
            #expect(abs(stored - composed) <= 1e-12 * max(1, abs(composed)))
        }
    }
}
