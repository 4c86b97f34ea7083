// SPDX-License-Identifier: Apache-2.0
import Control
import Foundation
import Records
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's jobs: their records in `STATE/jobs/ID.json`, the FIFO queue of jobs waiting
/// for a worker, and the progress streams of `watch`.
///
/// Each record is written atomically (a new file, fsynced, renamed over the old one, then
/// the directory fsynced), so a crash leaves either the old or the new record.
public actor JobStore {
    private let directory: URL
    private var jobs: [String: DaemonJob] = [:]
    private var queue: [String] = []
    private var watchers: [String: [UUID: AsyncStream<ProgressEvent>.Continuation]] = [:]
    /// The last progress event of each running job, so a watcher who arrives between two
    /// steps sees the pace and ε so far at once rather than after the next step.
    private var latestProgress: [String: ProgressEvent] = [:]

    /// Opens the job records under `stateDirectory/jobs`, creating the folder, and loads them.
    ///
    /// - Throws: when the folder cannot be created or a record cannot be decoded.
    public init(stateDirectory: URL) throws {
        directory = stateDirectory.appendingPathComponent("jobs", isDirectory: true)
        try FileManager.default.createDirectory(
            at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var loaded: [DaemonJob] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) where name.hasSuffix(".json") {
            loaded.append(try Self.decode(Data(contentsOf: directory.appendingPathComponent(name))))
        }
        jobs = Dictionary(uniqueKeysWithValues: loaded.map { ($0.id, $0) })
        queue = loaded.filter { $0.state == .queued }.sorted { $0.admissionNumber < $1.admissionNumber }.map(\.id)
    }

    /// Reads the record of job `id` without opening the store (a worker reads its job this way).
    ///
    /// - Throws: when `id` is not a plain job id, or the record is missing or unreadable.
    public static func record(id: String, stateDirectory: URL) throws -> DaemonJob {
        guard !id.isEmpty, !id.hasPrefix("."), !id.contains("/") else {
            throw CocoaError(.fileReadInvalidFileName, userInfo: [NSFilePathErrorKey: id])
        }
        let url = stateDirectory.appendingPathComponent("jobs", isDirectory: true).appendingPathComponent("\(id).json")
        return try decode(Data(contentsOf: url))
    }

    private static func decode(_ data: Data) throws -> DaemonJob {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        decoder.nonConformingFloatDecodingStrategy = NonFiniteJSON.decoding
        return try decoder.decode(DaemonJob.self, from: data)
    }

    /// Records a newly admitted job, numbers it after every job already recorded, and puts
    /// it at the end of the queue.
    public func enqueue(_ admitted: DaemonJob) throws {
        var job = admitted
        job.admissionNumber = (jobs.values.map(\.admissionNumber).max() ?? 0) + 1
        try persist(job)
        jobs[job.id] = job
        queue.append(job.id)
    }

    /// Jobs in admission order.
    public func all() -> [DaemonJob] {
        jobs.values.sorted { $0.admissionNumber < $1.admissionNumber }
    }

    public func job(id: String) -> DaemonJob? { jobs[id] }

    public var queuedIDs: [String] { queue }

    /// Takes the oldest queued job off the queue and marks it running.
    public func startNext(at date: Date = Date()) throws -> DaemonJob? {
        guard let id = queue.first, var job = jobs[id] else { return nil }
        job.state = .running
        job.startedAt = date
        try persist(job)
        queue.removeFirst()
        jobs[id] = job
        publish(job)
        return job
    }

    /// Takes job `id` out of the queue if it is still waiting there, so no worker can start
    /// it; nil if it is not queued (it started, ended, or is already being withdrawn).
    ///
    /// Cancelling a queued job must check that it is queued and keep the scheduler from
    /// starting it in one step: between two separate calls ``startNext(at:)`` could start it,
    /// and the job would be recorded cancelled while its worker trains on, never told to stop.
    /// The record stays queued until ``finish(id:state:reason:adapterPath:resultFile:at:)``; if the
    /// cancel cannot go on, ``restore(id:)`` puts the job back.
    public func withdraw(id: String) -> DaemonJob? {
        guard let job = jobs[id], job.state == .queued, let position = queue.firstIndex(of: id) else { return nil }
        queue.remove(at: position)
        return job
    }

    /// Puts a job taken out by ``withdraw(id:)`` back in the queue, in admission order.
    public func restore(id: String) {
        guard let job = jobs[id], job.state == .queued, !queue.contains(id) else { return }
        queue.append(id)
        queue.sort { (jobs[$0]?.admissionNumber ?? 0) < (jobs[$1]?.admissionNumber ?? 0) }
    }

    /// Puts a job that was running when the daemon died back in the queue, in admission
    /// order (ahead of the jobs admitted after it), to run again under its existing charge.
    public func requeue(id: String) throws {
        guard var job = jobs[id], job.state == .running else { return }
        job.state = .queued
        job.startedAt = nil
        job.step = 0
        job.loss = nil
        job.reason = nil
        try persist(job)
        jobs[id] = job
        latestProgress[id] = nil
        queue.append(id)
        queue.sort { (jobs[$0]?.admissionNumber ?? 0) < (jobs[$1]?.admissionNumber ?? 0) }
    }

    /// Records which plugin build trains job `id`.
    public func record(strategyVersion: String, id: String) throws {
        guard var job = jobs[id] else { return }
        job.strategyVersion = strategyVersion
        try persist(job)
        jobs[id] = job
    }

    /// Says why running job `id` waits (a postponement), for `dptunectl job` to show; kept
    /// in memory only, since the host it waits for may have no room to write it.
    public func record(waiting reason: String, id: String) {
        guard var job = jobs[id], job.state == .running else { return }
        job.reason = reason
        jobs[id] = job
    }

    /// Records progress of a running job and forwards it to its watchers.
    public func record(_ event: ProgressEvent) throws {
        guard var job = jobs[event.jobID] else { return }
        job.step = event.step
        job.loss = event.loss
        jobs[job.id] = job
        latestProgress[job.id] = event
        for continuation in watchers[job.id, default: [:]].values { continuation.yield(event) }
    }

    /// Marks a job ended (succeeded, failed or cancelled); its watch streams finish.
    public func finish(
        id: String, state: JobState, reason: String?, adapterPath: String? = nil, resultFile: String? = nil,
        at date: Date = Date()
    ) throws {
        precondition(state.isFinal, "finish(id:state:) needs a final state; found \(state)")
        guard var job = jobs[id] else { return }
        job.state = state
        job.reason = reason
        job.adapterPath = adapterPath
        job.resultFile = resultFile
        job.finishedAt = date
        try persist(job)
        jobs[id] = job
        queue.removeAll { $0 == id }
        latestProgress[id] = nil
        publish(job)
    }

    /// The progress of job `id` until it ends, starting with its latest progress event if a
    /// step has been recorded since it started; a job already ended gives a finished stream.
    public func watch(id: String) -> AsyncStream<ProgressEvent>? {
        guard let job = jobs[id] else { return nil }
        let (stream, continuation) = AsyncStream.makeStream(of: ProgressEvent.self, bufferingPolicy: .bufferingNewest(64))
        if job.state.isFinal {
            continuation.finish()
            return stream
        }
        if let latest = latestProgress[id] { continuation.yield(latest) }
        let token = UUID()
        watchers[id, default: [:]][token] = continuation
        continuation.onTermination = { _ in Task { await self.dropWatcher(id: id, token: token) } }
        return stream
    }

    private func dropWatcher(id: String, token: UUID) {
        watchers[id]?[token] = nil
    }

    /// Sends the job's state to its watchers, and ends their streams once it is final.
    private func publish(_ job: DaemonJob) {
        let event = ProgressEvent(
            jobID: job.id, state: job.state, step: job.step, totalSteps: job.steps, loss: job.loss,
            epsilonSpent: job.summary.epsilonSpent, examplesPerSecond: 0)
        for continuation in watchers[job.id, default: [:]].values {
            continuation.yield(event)
            if job.state.isFinal { continuation.finish() }
        }
        if job.state.isFinal { watchers[job.id] = nil }
    }

    private func persist(_ job: DaemonJob) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        // A diverged loss (NaN or infinite) must not make the job's state unwritable.
        encoder.nonConformingFloatEncodingStrategy = NonFiniteJSON.encoding
        try AtomicFile.write(encoder.encode(job), to: directory.appendingPathComponent("\(job.id).json"))
    }
}
