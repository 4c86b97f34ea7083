// SPDX-License-Identifier: Apache-2.0
import Foundation
import Ledger
import Privacy

/// A fresh directory holding one ledger file, removed when the value is released.
final class TemporaryLedger {
    let directory: URL
    var path: String { directory.appendingPathComponent("ledger.sqlite").path }

    init() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("dptune-ledger-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: directory) }

    /// Opens (creating if needed) with the closed-form evaluator and the given accounts.
    func open(accounts toml: String? = nil) throws -> LedgerStore {
        let store = try LedgerStore(path: path, create: true, curveEvaluator: ClosedFormRDP.evaluator)
        if let toml { try store.syncAccounts(AccountsFile(parsing: toml)) }
        return store
    }

    static func request(
        _ jobID: String, account: String, _ charges: [AdmissionRequest.Charge], strategy: String = "lora"
    ) -> AdmissionRequest {
        AdmissionRequest(
            jobID: jobID, account: account,
            dataset: .init(sha256: String(repeating: "0f", count: 32), spoolName: "\(jobID).jsonl", recordCount: 500),
            strategy: strategy, charges: charges)
    }

    static func request(_ jobID: String, account: String, event: DpEvent) -> AdmissionRequest {
        request(jobID, account: account, [.init(event: event)])
    }
}
