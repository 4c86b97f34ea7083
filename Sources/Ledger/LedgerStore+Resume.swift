// SPDX-License-Identifier: Apache-2.0
import Foundation
import GRDB
import Privacy

extension LedgerStore {
    /// Takes up an admission again, unchanged, when the daemon died before recording its job.
    ///
    /// The daemon admits a job here before it writes the job's record and moves its dataset:
    /// a crash in between leaves the job admitted and charged, with nothing to run it. At the
    /// next start the dataset comes through intake again, and admitting it anew would charge
    /// it twice, failing it would charge it for nothing. When the request is exactly what was
    /// admitted (account, strategy, the dataset's bytes, spool name and record count, every
    /// charge's task and event in order), the admission stands as it is: no new charge and no
    /// second budget check, since its charges are already in the account's total. The
    /// resumption is audited as `job.resume`.
    ///
    /// - Returns: the admission as the ledger recorded it, with the account's spending now.
    /// - Throws: ``LedgerError`` `.admissionMismatch` saying what differs, `.unknownJob`,
    ///   `.jobAlreadyFinished` or `.invalidRequest`; nothing is written then.
    public func resume(_ request: AdmissionRequest) throws -> Admission {
        try Self.validate(request)
        return try writeImmediately { db in
            guard let job = try Row.fetchOne(db, sql: """
                SELECT j.account, j.strategy, j.state, d.sha256, d.spool_name, d.record_count
                FROM jobs j JOIN datasets d ON d.id = j.dataset_id WHERE j.id = ?
                """, arguments: [request.jobID])
            else {
                throw LedgerError(.unknownJob, "no job \(request.jobID.debugDescription) in the ledger; nothing to resume")
            }
            let state: String = job["state"]
            guard state == JobRecord.State.admitted.rawValue else {
                throw LedgerError(
                    .jobAlreadyFinished, "job \(request.jobID) already \(state); only an admitted job is resumed, nothing changed")
            }
            let charges = try Row.fetchAll(
                db, sql: "SELECT id, task, event FROM charges WHERE job_id = ? ORDER BY id", arguments: [request.jobID])
            let recorded = AdmissionRequest(
                jobID: request.jobID, account: job["account"],
                dataset: .init(sha256: job["sha256"], spoolName: job["spool_name"], recordCount: job["record_count"]),
                strategy: job["strategy"],
                charges: try charges.map { charge in
                    AdmissionRequest.Charge(
                        task: charge["task"],
                        event: try LedgerJSON.decode(DpEvent.self, from: charge["event"], column: "charges.event"))
                })
            if let difference = Self.difference(recorded: recorded, requested: request) {
                throw LedgerError(
                    .admissionMismatch,
                    "job \(request.jobID) was admitted with \(difference); not resumed, nothing changed")
            }
            let account = try AccountRow.fetch(db, name: recorded.account)
            try Self.appendAudit(
                db, at: Date(), operation: "job.resume", account: account.name, job: request.jobID,
                detail: AuditDetail(
                    strategy: recorded.strategy, datasetSHA256: recorded.dataset.sha256,
                    spoolName: recorded.dataset.spoolName, recordCount: recorded.dataset.recordCount,
                    epsilonSpent: account.epsilonSpent))
            return Admission(
                jobID: request.jobID, chargeIDs: charges.map { $0["id"] }, epsilonSpent: account.epsilonSpent,
                epsilonRemaining: max(0, account.epsilonCap - account.epsilonSpent))
        }
    }

    /// The first field in which `requested` differs from `recorded`, both values shown; nil
    /// when they are equal.
    private static func difference(recorded: AdmissionRequest, requested: AdmissionRequest) -> String? {
        func compare<Value: Equatable>(_ field: String, _ recorded: Value, _ requested: Value, shown: (Value) -> String) -> String? {
            recorded == requested ? nil : "\(field) \(shown(recorded)); the request has \(shown(requested))"
        }
        func quoted(_ text: String?) -> String { text?.debugDescription ?? "none" }
        func event(_ event: DpEvent) -> String { (try? LedgerJSON.encode(event)) ?? "\(event)" }
        if let field = compare("account", recorded.account, requested.account, shown: quoted)
            ?? compare("strategy", recorded.strategy, requested.strategy, shown: quoted)
            ?? compare("dataset sha256", recorded.dataset.sha256, requested.dataset.sha256, shown: quoted)
            ?? compare("spool name", recorded.dataset.spoolName, requested.dataset.spoolName, shown: quoted)
            ?? compare("record count", recorded.dataset.recordCount, requested.dataset.recordCount, shown: { "\($0)" })
            ?? compare("charge count", recorded.charges.count, requested.charges.count, shown: { "\($0)" }) {
            return field
        }
        for (index, (was, asked)) in zip(recorded.charges, requested.charges).enumerated() {
            if let field = compare("charge \(index + 1) task", was.task, asked.task, shown: quoted)
                ?? compare("charge \(index + 1) event", was.event, asked.event, shown: event) {
                return field
            }
        }
        return nil
    }
}
