// SPDX-License-Identifier: Apache-2.0
import Control

/// `done/NAME.result.json`: how the job on a dataset ended (DESIGN §3.1).
///
/// Written for every job that ended, failed and cancelled ones too, so a data owner finds
/// every dataset that left `accepted/` in `done/` with the reason.
struct JobResult: Encodable {
    var jobID: String?
    var state: JobState
    var reason: String?
    var adapterPath: String?
    /// ε the job was calibrated to (at `delta`), charged whether or not it succeeded.
    var epsilon: Double?
    var delta: Double?

    init(_ job: DaemonJob) {
        jobID = job.id
        state = job.state
        reason = job.reason
        adapterPath = job.adapterPath
        epsilon = job.epsilon
        delta = job.delta
    }

    init(orphanReason reason: String) {
        state = .failed
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey {
        case state, reason, epsilon, delta
        case jobID = "job_id"
        case adapterPath = "adapter_path"
    }
}
