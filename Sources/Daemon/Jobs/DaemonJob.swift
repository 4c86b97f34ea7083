// SPDX-License-Identifier: Apache-2.0
import Control
import Foundation
import Records
import Training

/// A job as the daemon keeps it in its state directory (`jobs/ID.json`).
///
/// The ledger holds the job's charge and final state; this record holds what the ledger
/// does not: the plan, the dataset's place in the spool, and progress.
public struct DaemonJob: Sendable, Hashable, Codable {
    public var id: String
    public var account: String
    /// The dataset's file name in `accepted/` (`NAME.jsonl`).
    public var dataset: String
    public var backbone: String
    public var strategy: String
    /// The version of the plugin build that trains (or trained) the job; nil until it starts.
    public var strategyVersion: String?
    public var objective: String
    public var epsilon: Double
    public var delta: Double
    /// `prv` or `rdp`: the accountant that calibrated σ.
    public var accountant: String
    /// N after the held-out split.
    public var populationSize: Int
    public var samplingRate: Double
    public var steps: Int
    public var noiseMultiplier: Double
    /// A forward-perturbation job's share of ε for its labels, as charged; nil for DP-SGD
    /// (and in records written before it was kept).
    public var labelShare: Double?
    public var chargeIDs: [Int64]
    /// The manifest as admitted, every default filled in (``Manifest/resolvedJSON``), and
    /// the held-out fraction intake planned with: the worker trains these, not what the
    /// config says when the job starts. Nil in records written before they were kept.
    public var admittedManifest: String?
    public var heldOutFraction: Double?
    /// The SHA-256 of the dataset as validated and admitted. Intake validates from an open
    /// descriptor and then moves the file by name, so a file replaced in `incoming/` in
    /// between, or still being written, would reach `accepted/` unvalidated: the worker
    /// trains these bytes only. Nil in records written before it was kept.
    public var datasetSHA256: String?
    public var state: JobState
    public var step: Int
    public var loss: Double?
    public var createdAt: Date
    /// The job's place in admission order, which the queue follows across restarts: the
    /// record's dates keep whole seconds only, and several jobs are admitted in one second.
    public internal(set) var admissionNumber: Int
    public var startedAt: Date?
    public var finishedAt: Date?
    public var reason: String?
    /// The published adapter directory, once the job succeeded.
    public var adapterPath: String?
    /// Where its dataset's result is in the spool once the job ended, `done/NAME.result.json`:
    /// a name an earlier job's dataset holds in `done/` is suffixed (`-1`, `-2`), so the
    /// dataset's name alone does not find it. Nil in records written before it was kept.
    public var resultFile: String?

    init(id: String, dataset: String, manifest: Manifest, heldOutFraction: Double, plan: TrainingPlan,
         labelShare: Double? = nil, datasetSHA256: String? = nil, chargeIDs: [Int64], createdAt: Date) {
        self.id = id
        account = manifest.account
        self.dataset = dataset
        backbone = manifest.backbone
        strategy = manifest.strategy
        objective = manifest.objective.rawValue
        epsilon = plan.targetEpsilon
        delta = plan.delta
        accountant = plan.accountant.rawValue
        populationSize = plan.populationSize
        samplingRate = plan.samplingRate
        steps = plan.steps
        noiseMultiplier = plan.noiseMultiplier
        self.labelShare = labelShare
        self.datasetSHA256 = datasetSHA256
        self.chargeIDs = chargeIDs
        admittedManifest = String(decoding: manifest.resolvedJSON, as: UTF8.self)
        self.heldOutFraction = heldOutFraction
        state = .queued
        step = 0
        self.createdAt = createdAt
        admissionNumber = 0
    }

    /// The plan the job's ledger charge paid for.
    var chargedPlan: ChargedPlan {
        ChargedPlan(populationSize: populationSize, samplingRate: samplingRate, steps: steps,
                    noiseMultiplier: noiseMultiplier, targetEpsilon: epsilon, delta: delta, accountant: accountant,
                    labelShare: labelShare)
    }

    var summary: JobSummary {
        JobSummary(
            id: id, account: account, dataset: dataset, strategy: strategy, strategyVersion: strategyVersion ?? "",
            state: state, progress: steps > 0 ? Double(step) / Double(steps) : 0,
            epsilonSpent: state == .queued ? 0 : epsilon, epsilonTarget: epsilon, createdAt: createdAt,
            startedAt: startedAt, finishedAt: finishedAt, reason: reason, adapterPath: adapterPath,
            resultFile: resultFile)
    }

    var detail: JobDetail {
        JobDetail(
            summary: summary, backbone: backbone, delta: delta, accountant: accountant, step: step,
            totalSteps: steps, loss: loss, chargeID: chargeIDs.first.map(String.init))
    }
}
