// SPDX-License-Identifier: Apache-2.0
@testable import Daemon
import Foundation
import Testing

/// What killed preflights and workers leave behind: a kill -9 audit found each kind kept
/// for good by every later start.
@Suite struct LeftoverFilesTests {
    /// The pid of a process that has ended.
    private static func endedPID() throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }

    private static func make(_ url: URL, directory: Bool = false) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        if directory {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
        } else {
            #expect(FileManager.default.createFile(atPath: url.path, contents: Data("θ".utf8)))
        }
    }

    /// At start-up: every preflight's manifest, and the checkpoint and staging of jobs that
    /// are not queued or running, and adapters half-written by a writer that is gone, go;
    /// a live job's files, a published adapter and one still being written stay.
    @Test func theStartUpSweepTakesOnlyWhatNothingWillUse() throws {
        let config = try DaemonFixture().config
        let adapters = config.paths.adapters
        let gone = try Self.endedPID()
        let removed: [URL] = [
            config.preflightStagingDirectory.appendingPathComponent("4F906566.manifest.json"),
            config.workerStagingDirectory(job: "j-settled"),
            config.checkpointFile(job: "j-settled"),
            adapters.appendingPathComponent(".j-live.partial-\(gone)"),
        ]
        let kept: [URL] = [
            config.workerStagingDirectory(job: "j-live"),
            config.checkpointFile(job: "j-live"),
            config.checkpointFile(job: "j-live").deletingLastPathComponent().appendingPathComponent(".j-live.checkpoint.partial"),
            config.adapterDirectory(job: "j-settled"),
            adapters.appendingPathComponent(".j-writing.partial-\(getpid())"),
        ]
        for url in removed + kept { try Self.make(url, directory: url.pathExtension.isEmpty) }

        let swept = LeftoverFiles.sweep(config: config, liveJobs: ["j-live"])
        #expect(Set(swept) == Set(removed.map(\.path)))
        for url in removed { #expect(!FileManager.default.fileExists(atPath: url.path), "\(url.lastPathComponent) stayed") }
        for url in kept { #expect(FileManager.default.fileExists(atPath: url.path), "\(url.lastPathComponent) went") }
    }

    /// Once a job is settled: its checkpoint, its staging and the adapter its killed worker
    /// left half-written, not another job's.
    @Test func aSettledJobsFilesAreItsOwn() throws {
        let config = try DaemonFixture().config
        let adapters = config.paths.adapters
        let own = adapters.appendingPathComponent(".j-1.partial-4242")
        try Self.make(own, directory: true)
        try Self.make(adapters.appendingPathComponent(".j-10.partial-4243"), directory: true)
        #expect(Set(LeftoverFiles.ofSettledJob("j-1", config: config).map(\.path))
            == Set([config.checkpointFile(job: "j-1"), config.workerStagingDirectory(job: "j-1"), own].map(\.path)))
    }
}
