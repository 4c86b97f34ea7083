// SPDX-License-Identifier: Apache-2.0
import Control
import Foundation
import Synchronization

/// An in-memory daemon behind the control socket: canned answers, a record of every request
/// that reached it and of every connection that closed, and hooks to make a request wait
/// (for concurrency and shutdown tests).
///
/// Uploads are answered as a daemon would count them (the progress adds up each chunk) but
/// not checked: tests read what the client sent from ``received``.
public final class FakeControlHandler: ControlHandler {
    public struct Received: Sendable, Hashable {
        public var request: ControlRequest
        public var peer: PeerCredentials
        /// Nil for `watch`, which is not told its connection.
        public var connection: ControlConnectionID?
    }

    /// The id every upload gets.
    public static let uploadID = "upload-1"

    private struct State {
        var received: [Received] = []
        var closed: [ControlConnectionID] = []
        var upload = UploadProgress(upload: FakeControlHandler.uploadID)
        var uploadName = ""
        var details: [String: JobDetail] = [FakeControlHandler.job.id: FakeControlHandler.detail]
        var watchEvents: [String: [ProgressEvent]] = [:]
        var statusRendezvous: Rendezvous?
        var jobsGate: Gate?
    }

    private let state = Mutex(State())

    public init() {}

    public static let created = Date(timeIntervalSince1970: 1_790_000_000.5)

    public static let job = JobSummary(
        id: "job-1", account: "hospital-a", dataset: "notes", strategy: "lora", strategyVersion: "1.2.0",
        state: .running, progress: 0.25, epsilonSpent: 1.5, epsilonTarget: 8, createdAt: created,
        startedAt: created.addingTimeInterval(2))

    public static let detail = JobDetail(
        summary: job, backbone: "minilm-l6", delta: 1e-5, accountant: "prv", step: 25, totalSteps: 100,
        loss: 0.6931, chargeID: "charge-9")

    public static let account = AccountSummary(
        name: "hospital-a", epsilonCap: 10, delta: 1e-5, epsilonSpent: 1.5, epsilonRemaining: 8.5, jobCount: 1)

    /// An account the accounts file no longer lists.
    public static let closedAccount = AccountSummary(
        name: "pilot", epsilonCap: 1, delta: 1e-6, epsilonSpent: 0.25, epsilonRemaining: 0.75, jobCount: 2,
        closedAt: created)

    public static let charge = ChargeSummary(
        chargeID: "charge-9", jobID: "job-1", account: "hospital-a", task: "sentiment", strategy: "lora",
        mechanism: "PoissonSampled(0.01, Gaussian(1.1)) x100", epsilon: 1.5, state: .reserved,
        reason: "admitted", time: created)

    public static let plugin = PluginSummary(
        id: "lora", version: "1.2.0", file: "/var/lib/dptune/plugins/liblora.so", loadedAt: created,
        state: .current, jobs: ["job-1"])

    public static let retiredPlugin = PluginSummary(
        id: "lora", version: "1.1.0", file: "/var/lib/dptune/plugins/liblora-old.so", loadedAt: created,
        state: .retired, reason: "replaced by 1.2.0", jobs: [])

    public static let status = DaemonStatus(
        version: "0.1.0", uptimeSeconds: 12.5, queueLength: 2, runningJobs: [job],
        ledgerPath: "/var/lib/dptune/ledger.sqlite", pluginCount: 5)

    public var received: [Received] { state.withLock { $0.received } }

    /// The connections whose close the server reported, in order.
    public var closedConnections: [ControlConnectionID] { state.withLock { $0.closed } }

    /// Makes `watch(jobID:)` replay `events`, then end.
    public func setWatchEvents(_ events: [ProgressEvent], for jobID: String) {
        state.withLock { $0.watchEvents[jobID] = events }
    }

    /// Makes `job` requests answer `detail` for its id (e.g. a job that has ended).
    public func setDetail(_ detail: JobDetail) {
        state.withLock { $0.details[detail.summary.id] = detail }
    }

    /// Makes every `status` request wait until `count` of them are in flight at once.
    public func requireConcurrentStatus(_ count: Int) {
        state.withLock { $0.statusRendezvous = Rendezvous(count: count) }
    }

    /// Makes `jobs` requests wait until `gate` opens.
    public func holdJobs(until gate: Gate) {
        state.withLock { $0.jobsGate = gate }
    }

    public func handle(
        _ request: ControlRequest, peer: PeerCredentials, connection: ControlConnectionID
    ) async throws -> ControlResult {
        let (rendezvous, gate, details) = state.withLock { state in
            state.received.append(Received(request: request, peer: peer, connection: connection))
            return (state.statusRendezvous, state.jobsGate, state.details)
        }
        switch request {
        case .status:
            if let rendezvous, !(await rendezvous.arrive()) {
                throw ControlError(.internal, "fewer than \(rendezvous.count) status requests were in flight at once")
            }
            return .status(Self.status)
        case .jobs:
            if let gate { await gate.wait() }
            return .jobs([Self.job])
        case .job(let id):
            guard let detail = details[id] else { throw ControlError(.notFound, "no job \(id)") }
            return .job(detail)
        case .cancel(let id):
            guard id == Self.job.id else { throw ControlError(.notFound, "no job \(id)") }
            var detail = Self.detail
            detail.summary.state = .cancelled
            detail.summary.reason = "cancelled by uid \(peer.uid)"
            return .job(detail)
        case .ledger(let account):
            guard let account else { return .ledger(LedgerReport(charges: [Self.charge])) }
            guard account == Self.account.name else { throw ControlError(.notFound, "no account \(account)") }
            return .ledger(LedgerReport(account: Self.account, charges: [Self.charge]))
        case .accounts:
            return .accounts([Self.account, Self.closedAccount])
        case .plugins, .pluginsReload:
            return .plugins([Self.plugin, Self.retiredPlugin])
        case .submitBegin(let begin):
            return .upload(state.withLock { state in
                state.upload = UploadProgress(upload: Self.uploadID)
                state.uploadName = begin.name
                return state.upload
            })
        case .submitChunk(let chunk):
            let count = try chunk.bytes().count
            return .upload(state.withLock { state in
                switch chunk.file {
                case .dataset: state.upload.datasetBytes += count
                case .manifest: state.upload.manifestBytes += count
                }
                return state.upload
            })
        case .submitEnd:
            let name = state.withLock { URL(fileURLWithPath: $0.uploadName).deletingPathExtension().lastPathComponent }
            return .submitted(SubmitReceipt(dataset: name))
        case .watch:
            throw ControlError(.internal, "watch must not reach handle(_:peer:)")
        }
    }

    public func watch(jobID: String, peer: PeerCredentials) async throws -> AsyncStream<ProgressEvent> {
        let events = state.withLock { state in
            state.received.append(Received(request: .watch(id: jobID), peer: peer, connection: nil))
            return state.watchEvents[jobID]
        }
        guard let events else { throw ControlError(.notFound, "no job \(jobID)") }
        return AsyncStream { continuation in
            for event in events { continuation.yield(event) }
            continuation.finish()
        }
    }

    public func connectionClosed(_ connection: ControlConnectionID) async {
        state.withLock { $0.closed.append(connection) }
    }
}

/// Lets callers through only once `count` of them are waiting at the same time (or fails
/// them all after ten seconds, so a server that serializes requests fails the test instead
/// of hanging it).
public actor Rendezvous {
    public nonisolated let count: Int
    private var waiting: [CheckedContinuation<Bool, Never>] = []
    private var opened = false

    public init(count: Int) { self.count = count }

    public func arrive() async -> Bool {
        if opened { return true }
        return await withCheckedContinuation { continuation in
            waiting.append(continuation)
            if waiting.count == count {
                release(true)
            } else if waiting.count == 1 {
                Task {
                    try? await Task.sleep(for: .seconds(10))
                    self.release(false)
                }
            }
        }
    }

    private func release(_ outcome: Bool) {
        opened = opened || outcome
        for continuation in waiting { continuation.resume(returning: outcome) }
        waiting.removeAll()
    }
}

/// A latch that requests wait on until the test opens it.
public actor Gate {
    private var waiting: [CheckedContinuation<Void, Never>] = []
    private var isOpen = false
    public private(set) var arrivals = 0

    public init() {}

    public func wait() async {
        arrivals += 1
        if isOpen { return }
        await withCheckedContinuation { waiting.append($0) }
    }

    public func open() {
        isOpen = true
        for continuation in waiting { continuation.resume() }
        waiting.removeAll()
    }
}
