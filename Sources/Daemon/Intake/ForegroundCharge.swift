// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Foundation
import Ledger
import Records
import Training

/// The ledger charge of a job trained in the foreground (`dptuned train --ledger FILE`),
/// made as intake makes a daemon job's: the dataset validated and hashed, the job planned
/// and priced, and the privacy filter asked in one transaction, all before anything
/// trains. A foreground run on private data otherwise spends budget that no ledger sees.
///
/// The run holds its ``ForegroundRunLock`` from before the admission until the charge is
/// settled, so that a daemon starting later can tell a run killed unsettled from a live one.
public struct ForegroundCharge {
    public let jobID: String
    private let ledger: LedgerStore
    private let granted: LedgerAdmissionPolicy.Granted
    private let runLock: ForegroundRunLock

    /// Validates `dataset`, plans `manifest`'s job on it and admits it against the ledger
    /// at `ledgerFile` (an existing ledger, such as the daemon's: the account must be in it).
    ///
    /// - Throws: ``IntakeError`` as intake refuses a dataset (`budget_exhausted`,
    ///   `unknown_account`, a validation code, …); ``LedgerError`` for a ledger that cannot be opened.
    public static func admit(ledgerFile: URL, dataset: String, manifest: Manifest, strategy: any AdapterStrategy,
                             heldOutFraction: Double, jobID: String) throws -> ForegroundCharge {
        let ledger = try LedgerStore(path: ledgerFile.path, curveEvaluator: LedgerStore.accountantCurves)
        let runLock = try ForegroundRunLock(jobID: jobID, ledger: ledgerFile)
        var labelShares: [String: Double] = [:]
        if strategy.mechanismKind == .forwardPerturbation {
            labelShares[strategy.id] = StrategyCatalog.defaultLabelShare(declaredIn: strategy.options)
        }
        let policy = try LedgerAdmissionPolicy(
            backbones: [manifest.backbone],
            strategies: StrategyCatalog(ids: [strategy.id], forwardLabelShares: labelShares,
                                        optionSchemas: [strategy.id: strategy.options]),
            ledger: ledger, spoolName: URL(fileURLWithPath: dataset).lastPathComponent,
            heldOutFraction: heldOutFraction, jobID: jobID)
        do {
            _ = try DatasetValidator().validate(path: dataset, manifest: manifest, policy: policy)
        } catch {
            runLock.release()
            throw error
        }
        guard let granted = policy.admitted else {
            runLock.release()
            throw IntakeError(.admissionFailed, "the dataset validated but the ledger recorded no admission")
        }
        return ForegroundCharge(jobID: jobID, ledger: ledger, granted: granted, runLock: runLock)
    }

    /// Binds `job` to what was charged: it refuses another plan or other bytes.
    public func bind(_ job: inout TrainingJob) {
        job.jobID = jobID
        job.ledgerCharge = jobID
        job.chargedPlan = ChargedPlan(granted.plan, labelShare: granted.labelShare)
        job.admittedDatasetSHA256 = granted.datasetSHA256
    }

    /// Settles the charge once the job has ended; it stands either way (no refunds). A run
    /// stopped by a signal is cancelled, as an operator's cancel of a daemon job is. The run's
    /// lock goes only once the ledger has the outcome: if writing it fails, the daemon's next
    /// start finds the lock free and fails the admission.
    public func settle(failure: (any Error)?) throws {
        switch failure {
        case nil:
            try ledger.commit(job: jobID)
        case let stopped as TrainingError where stopped.code == .cancelled:
            try ledger.cancel(job: jobID, reason: "stopped by a signal: \(stopped.message)")
        case let failure?:
            try ledger.fail(job: jobID, reason: "\(failure)")
        }
        runLock.release()
    }
}
