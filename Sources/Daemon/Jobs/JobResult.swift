// SPDX-License-Identifier: Apache-2.0
import Control
import Foundation
import Spool
import Training

/// `done/NAME.result.json`: how the job on a dataset ended (DESIGN §3.1: job id, adapter
/// path, final ε, accuracy).
///
/// Written for every job that ended, failed and cancelled ones too, so a data owner finds
/// every dataset that left `accepted/` in `done/` with the reason.
struct JobResult: Encodable {
    var jobID: String?
    var state: JobState
    var reason: String?
    var adapterPath: String?
    /// The published adapter's ε at `delta`, from its model card; for a job that published
    /// none, the ε its charge was calibrated to, which the ledger keeps whatever the outcome.
    var epsilon: Double?
    var targetEpsilon: Double?
    var delta: Double?
    /// The adapter's held-out accuracy per task, from its model card (not privatized).
    var accuracy: [String: Double]?

    init(_ job: DaemonJob) {
        jobID = job.id
        state = job.state
        reason = job.reason
        adapterPath = job.adapterPath
        targetEpsilon = job.epsilon
        delta = job.delta
        epsilon = job.epsilon
        // The card is the adapter's statement of its guarantee; one that cannot be read
        // leaves the calibrated ε, which the card's never exceeds.
        if let adapterPath, let card = try? ModelCard.read(
            from: URL(fileURLWithPath: adapterPath).appendingPathComponent(AdapterArtifacts.modelCardFile)),
            card.jobID == job.id {
            epsilon = card.privacy.epsilon
            accuracy = card.evaluation.accuracy
        }
    }

    init(orphanReason reason: String) {
        state = .failed
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey {
        case state, reason, epsilon, delta, accuracy
        case jobID = "job_id"
        case adapterPath = "adapter_path"
        case targetEpsilon = "target_epsilon"
    }
}

extension SpoolDirectory {
    /// Moves the dataset of the job that ended to `done/` beside its result, and says where
    /// the result is, relative to the spool: `done/NAME.result.json`, with NAME suffixed when
    /// an earlier dataset holds it there.
    func fileResult(of ended: DaemonJob) throws(SpoolError) -> String? {
        let name = try finish(ended.dataset, result: JobResult(ended))
        return (try? SpoolName(name)).map { "\(Folder.done.rawValue)/\($0.resultName)" }
    }
}
