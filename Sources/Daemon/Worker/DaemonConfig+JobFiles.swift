// SPDX-License-Identifier: Apache-2.0
import Foundation

/// Where a job's files live, shared by the daemon and its worker so both agree.
extension DaemonConfig {
    /// The published adapter of job `id`.
    func adapterDirectory(job id: String) -> URL {
        paths.adapters.appendingPathComponent(id, isDirectory: true)
    }

    /// The job's training checkpoint; a worker started again for the job resumes from it.
    func checkpointFile(job id: String) -> URL {
        checkpointDirectory.appendingPathComponent("\(id).checkpoint")
    }

    /// Where every job's checkpoint lives.
    var checkpointDirectory: URL {
        paths.stateDirectory.appendingPathComponent("checkpoints", isDirectory: true)
    }

    /// A private, exec-allowed directory where the worker stages its copy of the plugin.
    func workerStagingDirectory(job id: String) -> URL {
        workerStagingRoot.appendingPathComponent(id, isDirectory: true)
    }

    /// Where every job's ``workerStagingDirectory(job:)`` lives.
    var workerStagingRoot: URL {
        paths.stateDirectory.appendingPathComponent("worker-staging", isDirectory: true)
    }

    /// A private, exec-allowed directory where the preflight stages its copy of the plugin.
    var preflightStagingDirectory: URL {
        paths.stateDirectory.appendingPathComponent("preflight-staging", isDirectory: true)
    }
}
