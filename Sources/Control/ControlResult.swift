// SPDX-License-Identifier: Apache-2.0
import Foundation

/// The successful answer to a request; the `result` member of `{"ok": true, …}`.
///
/// A response does not repeat its method, so the shape of `result` follows from the request:
///
/// ```
/// status                  → DaemonStatus
/// jobs                    → {"jobs": [JobSummary]}
/// job, cancel, watch      → JobDetail   (watch: the job as it ended)
/// ledger                  → LedgerReport
/// accounts                → {"accounts": [AccountSummary]}
/// plugins, plugins.reload → {"plugins": [PluginSummary]}
/// submit.begin, .chunk    → UploadProgress
/// submit.end              → SubmitReceipt
/// ```
public enum ControlResult: Sendable, Hashable {
    case status(DaemonStatus)
    case jobs([JobSummary])
    case job(JobDetail)
    case ledger(LedgerReport)
    case accounts([AccountSummary])
    case plugins([PluginSummary])
    case upload(UploadProgress)
    case submitted(SubmitReceipt)

    /// Whether this is the shape of answer `method` promises its callers.
    public func answers(_ method: ControlMethod) -> Bool {
        switch (self, method) {
        case (.status, .status), (.jobs, .jobs), (.ledger, .ledger), (.accounts, .accounts),
            (.submitted, .submitEnd):
            true
        case (.upload, .submitBegin), (.upload, .submitChunk):
            true
        case (.job, .job), (.job, .cancel), (.job, .watch):
            true
        case (.plugins, .plugins), (.plugins, .pluginsReload):
            true
        default:
            false
        }
    }
}

extension ControlResult: Encodable {
    struct JobList: Codable { var jobs: [JobSummary] }
    struct AccountList: Codable { var accounts: [AccountSummary] }
    struct PluginList: Codable { var plugins: [PluginSummary] }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .status(let status): try status.encode(to: encoder)
        case .jobs(let jobs): try JobList(jobs: jobs).encode(to: encoder)
        case .job(let job): try job.encode(to: encoder)
        case .ledger(let report): try report.encode(to: encoder)
        case .accounts(let accounts): try AccountList(accounts: accounts).encode(to: encoder)
        case .plugins(let plugins): try PluginList(plugins: plugins).encode(to: encoder)
        case .upload(let progress): try progress.encode(to: encoder)
        case .submitted(let receipt): try receipt.encode(to: encoder)
        }
    }
}
