// SPDX-License-Identifier: Apache-2.0
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What workers and preflights leave in the state and adapter folders when they are killed,
/// and which of it no job will use again.
///
/// A kill -9 audit found three kinds, kept for good by every later start: a preflight's
/// resolved manifest (`preflight-staging/UUID.manifest.json`), a half-published adapter
/// (`adapters/.JOB.partial-PID/`, with the weights of a run that was trained again), and
/// the plugin staging folder of a job settled at start-up. Each is the daemon's own scratch;
/// none is a dataset, a record or a published artifact.
enum LeftoverFiles {
    /// The files of job `id` that nothing reads once it is settled: its checkpoint (the
    /// last parameters and the unprivatized losses on its private data), its plugin staging
    /// folder, and an adapter its killed worker left half-written.
    static func ofSettledJob(_ id: String, config: DaemonConfig) -> [URL] {
        let partials = names(in: config.paths.adapters).filter { $0.hasPrefix(".\(id).partial-") }
        return [config.checkpointFile(job: id), config.workerStagingDirectory(job: id)]
            + partials.map { config.paths.adapters.appendingPathComponent($0) }
    }

    /// At start-up, before any preflight or worker runs: removes every preflight's staging,
    /// the checkpoint and staging of every job not in `liveJobs` (queued or running), and
    /// every half-published adapter whose writer is gone (a worker of the killed daemon may
    /// still be finishing its rename).
    ///
    /// - Returns: the paths removed, for the journal.
    @discardableResult
    static func sweep(config: DaemonConfig, liveJobs: Set<String>) -> [String] {
        var leftover: [URL] = []
        let preflights = config.preflightStagingDirectory
        leftover += names(in: preflights).map { preflights.appendingPathComponent($0) }
        let staging = config.workerStagingRoot
        leftover += names(in: staging).filter { !liveJobs.contains($0) }.map { staging.appendingPathComponent($0) }
        let checkpoints = config.checkpointDirectory
        leftover += names(in: checkpoints).filter { name in
            !liveJobs.contains { name == "\($0).checkpoint" || name == ".\($0).checkpoint.partial" }
        }.map { checkpoints.appendingPathComponent($0) }
        leftover += names(in: config.paths.adapters).filter { name in
            guard name.hasPrefix("."), let marker = name.range(of: ".partial-", options: .backwards),
                  let pid = Int32(name[marker.upperBound...]) else { return false }
            return !isAlive(pid)
        }.map { config.paths.adapters.appendingPathComponent($0) }
        return leftover.compactMap { url in
            (try? FileManager.default.removeItem(at: url)).map { url.path }
        }
    }

    private static func names(in directory: URL) -> [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    }

    /// Whether process `pid` exists (`kill(pid, 0)` fails with `ESRCH` only when it does not).
    private static func isAlive(_ pid: Int32) -> Bool {
        pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH)
    }
}
