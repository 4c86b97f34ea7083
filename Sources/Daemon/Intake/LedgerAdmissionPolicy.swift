// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Foundation
import Ledger
import Privacy
import Records
import Synchronization
import Training
import Transformer

/// The intake policy of one dataset: names from the config, the plugin registry and the
/// ledger; the budget check *is* the ledger's admission.
///
/// The ledger's `admit` is the single source of truth for budgets: the check that a job fits
/// and the reservation of its charge happen in one ledger transaction, at the moment the
/// dataset is accepted. A refusal charges nothing and its message (with the remaining
/// budget) becomes the dataset's `budget_exhausted` error.
///
/// Since an admitted charge stands, everything that would stop the worker before its first
/// step is asked first: the objective against the backbone's family, the options against
/// the strategy's declarations, then the ``JobPreflight`` (the plugin's own rules).
///
/// An admission the daemon made before it died, without recording its job (an orphan), is
/// resumed instead: the same checks, then the ledger takes up the recorded admission if the
/// request is unchanged, without a second charge or budget check. If anything changed (the
/// dataset's bytes, the plan), the dataset is admitted as a new job, and the caller fails
/// the orphan with ``resumeRefusal`` as its reason.
///
/// One instance serves one call of ``SpoolIntake/process(_:)``, so it can hand the admitted
/// job back to the caller.
final class LedgerAdmissionPolicy: IntakePolicy {
    /// What the budget check granted.
    struct Granted: Sendable {
        let jobID: String
        let plan: TrainingPlan
        /// A forward-perturbation job's label share of ε, as priced; nil for DP-SGD.
        let labelShare: Double?
        /// The SHA-256 of the dataset as validated: the worker trains these bytes only.
        let datasetSHA256: String
        let admission: Admission
        /// Whether this is the orphan's admission, resumed, rather than a new one.
        let resumed: Bool
    }

    let knownBackbones: Set<String>
    /// The family of each backbone whose `config.json` could be read; one missing here is
    /// left to the worker, which checks the objective again.
    let backboneFamilies: [String: BackboneFamily]
    let knownStrategies: Set<String>
    let withdrawnStrategies: [String: String]
    let knownAccounts: Set<String>
    /// Each account's δ cap: the δ at which its privacy filter states the guarantee composed
    /// over all its jobs.
    private let deltaCaps: [String: Double]
    /// Accounts the accounts file no longer lists, and since when: known, so that a dataset
    /// naming one is told it is closed rather than unknown.
    private let closedAccounts: [String: Date]
    private let forwardLabelShares: [String: Double]
    private let optionSchemas: [String: [StrategyOption]]
    private let pluginFiles: [String: URL]
    private let preflight: JobPreflight?
    private let ledger: LedgerStore
    private let spoolName: String
    private let heldOutFraction: Double
    private let jobID: String
    private let orphan: JobRecord?
    private let isStopping: @Sendable () -> Bool
    private let granted = Mutex<Granted?>(nil)
    private let refusal = Mutex<String?>(nil)

    /// - Parameters:
    ///   - jobID: the id of a new admission.
    ///   - orphan: the admission of this dataset to resume, if any.
    ///   - isStopping: whether the daemon is stopping; a preflight still running then is
    ///     killed, and the dataset left for the next start (`intake_stopped`).
    init(
        backbones: Set<String>, backboneFamilies: [String: BackboneFamily] = [:], strategies: StrategyCatalog,
        preflight: JobPreflight? = nil, ledger: LedgerStore, spoolName: String, heldOutFraction: Double, jobID: String,
        resuming orphan: JobRecord? = nil, isStopping: @escaping @Sendable () -> Bool = { false }
    ) throws {
        knownBackbones = backbones
        self.backboneFamilies = backboneFamilies
        knownStrategies = strategies.ids
        withdrawnStrategies = strategies.withdrawnFiles
        forwardLabelShares = strategies.forwardLabelShares
        optionSchemas = strategies.optionSchemas
        pluginFiles = strategies.pluginFiles
        self.preflight = preflight
        let accounts = try ledger.accounts()
        knownAccounts = Set(accounts.map(\.name))
        deltaCaps = Dictionary(accounts.map { ($0.name, $0.deltaCap) }) { first, _ in first }
        closedAccounts = Dictionary(accounts.compactMap { account in account.closedAt.map { (account.name, $0) } }) { first, _ in first }
        self.ledger = ledger
        self.spoolName = spoolName
        self.heldOutFraction = heldOutFraction
        self.jobID = jobID
        self.orphan = orphan
        self.isStopping = isStopping
    }

    /// The share of ε a forward-perturbation job spends on its labels: the manifest's, or
    /// the current build's default; nil for DP-SGD.
    private func labelShare(of manifest: Manifest) throws(IntakeError) -> Double? {
        guard let defaultShare = forwardLabelShares[manifest.strategy] else { return nil }
        var share = defaultShare
        switch manifest.strategyOptions[ForwardPerturbationBudget.labelShareOption] {
        case .number(let value)?: share = value
        case .integer(let value)?: share = Double(value)
        case nil: break
        case let other?:
            throw IntakeError(.invalidManifest, "strategy option \(ForwardPerturbationBudget.labelShareOption) must be a number; found \(other)")
        }
        return share
    }

    /// What the job will release: the plan's subsampled Gaussian for DP-SGD, or one
    /// forward-perturbation release per record, priced exactly as the plugin will run it.
    private func event(of manifest: Manifest, plan: TrainingPlan, labelShare share: Double?) throws(IntakeError) -> DpEvent {
        guard let share else { return plan.event }
        do {
            return try ForwardPerturbationBudget(epsilon: manifest.privacy.epsilon, delta: manifest.privacy.delta,
                                                 labelShare: share).event(labelCounts: manifest.labels.values.map(\.count))
        } catch {
            throw IntakeError(.invalidManifest, "the job cannot be priced: \(error)")
        }
    }

    /// The admission made or resumed by ``admit(account:manifest:dataset:)``, if any.
    var admitted: Granted? { granted.withLock { $0 } }

    /// Why the orphan's admission was not resumed, when the ledger refused it.
    var resumeRefusal: String? { refusal.withLock { $0 } }

    func admit(account: String, manifest: Manifest, dataset: DatasetSummary) throws(IntakeError) {
        // The ledger refuses it too, but only after the preflight has prepared the whole job.
        if let closedAt = closedAccounts[account], orphan == nil {
            throw IntakeError(.accountClosed, LedgerError.accountClosed(account, since: closedAt).message)
        }
        // The worker would refuse these too, but only after admission, with the charge standing.
        let mechanism: MechanismKind = forwardLabelShares[manifest.strategy] == nil ? .gradientPerturbation : .forwardPerturbation
        if let refusal = manifest.objective.refusal(strategy: manifest.strategy, mechanism: mechanism)
            ?? manifest.privacy.unit.refusal(strategy: manifest.strategy, mechanism: mechanism) {
            throw IntakeError(.invalidManifest, refusal)
        }
        if let family = backboneFamilies[manifest.backbone],
           let refusal = manifest.objective.refusal(backbone: manifest.backbone, family: family) {
            throw IntakeError(.invalidManifest, refusal)
        }
        if let schema = optionSchemas[manifest.strategy] {
            do {
                _ = try StrategyOptions(json: String(decoding: manifest.strategyOptionsJSON, as: UTF8.self), schema: schema)
            } catch {
                throw IntakeError(.invalidManifest, "strategy \(manifest.strategy): \(error.message)")
            }
        }
        let plan: TrainingPlan
        do {
            plan = try TrainingPlan(manifest: manifest, dataset: dataset, heldOutFraction: heldOutFraction)
        } catch {
            throw IntakeError(error.code == .deltaTooLarge ? .deltaTooLarge : .invalidManifest,
                              "the job cannot be planned: \(error.message)")
        }
        // DESIGN §4.3 item 7 asks δ < 1/N of every guarantee; the one the account's filter
        // keeps over all its jobs is stated at its δ cap, so that cap must be below 1/N too.
        if let cap = deltaCaps[account],
           let refusal = dataset.deltaRefusal(cap, subject: "account \(account)'s δ cap \(cap)", unit: manifest.privacy.unit,
                                              why: ": its budget is stated at that δ over every job it pays for; lower its delta in the accounts file") {
            throw refusal
        }
        let share = try labelShare(of: manifest)
        let event = try event(of: manifest, plan: plan, labelShare: share)
        if let preflight, let pluginFile = pluginFiles[manifest.strategy],
           let refusal = preflight.check(dataset: spoolName, manifest: manifest, heldOutFraction: heldOutFraction,
                                         pluginFile: pluginFile, callOff: isStopping) {
            throw refusal
        }
        let request = AdmissionRequest(
            jobID: jobID, account: account,
            dataset: .init(sha256: dataset.sha256, spoolName: spoolName, recordCount: dataset.recordCount),
            strategy: manifest.strategy, charges: [.init(event: event)])
        do {
            let admission = try resumeOrAdmit(request)
            granted.withLock { $0 = Granted(jobID: admission.jobID, plan: plan, labelShare: share,
                                            datasetSHA256: dataset.sha256, admission: admission,
                                            resumed: admission.jobID == orphan?.id) }
        } catch let error as LedgerError where error.code == .budgetExceeded {
            throw IntakeError(.budgetExhausted, error.message)
        } catch let error as LedgerError where error.code == .unknownAccount {
            throw IntakeError(.unknownAccount, error.message)
        } catch let error as LedgerError where error.code == .accountClosed {
            throw IntakeError(.accountClosed, error.message)
        } catch let error as LedgerError {
            throw IntakeError(.admissionFailed, "the ledger could not admit the job: \(error)")
        } catch {
            // The database itself failed (a full disk, an I/O error): nothing about the job.
            throw IntakeError(.intakeDeferred, "the ledger could not be written: \(error)")
        }
    }

    /// The orphan's admission if the ledger resumes it for `request`; otherwise `request`
    /// admitted as a new job.
    private func resumeOrAdmit(_ request: AdmissionRequest) throws -> Admission {
        if let orphan {
            var resumed = request
            resumed.jobID = orphan.id
            // The name intake recorded then, which an older ledger may hold as the manifest's:
            // the dataset is the one found under it (OrphanAdmissions), its bytes compared.
            resumed.dataset.spoolName = orphan.spoolName
            do {
                return try ledger.resume(resumed)
            } catch let error as LedgerError where [.admissionMismatch, .jobAlreadyFinished, .unknownJob].contains(error.code) {
                refusal.withLock { $0 = error.message }
            }
        }
        return try ledger.admit(request)
    }
}
