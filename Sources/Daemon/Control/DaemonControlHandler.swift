// SPDX-License-Identifier: Apache-2.0
import Control
import Foundation
import Ledger
import Spool

/// Answers `dptunectl` requests from the ledger, the job store and the plugin registry.
///
/// The server has already checked that state-changing requests come from an admin; this
/// handler decides what they do.
public struct DaemonControlHandler: ControlHandler {
    private let ledger: LedgerStore
    private let jobs: JobStore
    private let plugins: PluginRegistry
    private let spool: SpoolDirectory
    private let uploads: SpoolUploads
    private let canceller: (any JobCancelling)?
    private let startedAt: ContinuousClock.Instant
    private let version: String

    /// - Parameters:
    ///   - canceller: where a running job's cancel goes (the scheduler); nil for a daemon
    ///     without training (running jobs then cannot exist, queued jobs stay queued).
    public init(
        ledger: LedgerStore, jobs: JobStore, plugins: PluginRegistry, spool: SpoolDirectory,
        canceller: (any JobCancelling)?, version: String, uploadLimits: UploadLimits = UploadLimits(),
        startedAt: ContinuousClock.Instant = .now
    ) {
        self.ledger = ledger
        self.jobs = jobs
        self.plugins = plugins
        self.spool = spool
        uploads = SpoolUploads(spool: spool, limits: uploadLimits)
        self.canceller = canceller
        self.version = version
        self.startedAt = startedAt
    }

    public func handle(
        _ request: ControlRequest, peer: PeerCredentials, connection: ControlConnectionID
    ) async throws -> ControlResult {
        switch request {
        case .status:
            let all = await jobs.all()
            let uptime = ContinuousClock.now - startedAt
            return .status(DaemonStatus(
                version: version,
                uptimeSeconds: Double(uptime.components.seconds) + Double(uptime.components.attoseconds) * 1e-18,
                queueLength: all.filter { $0.state == .queued }.count,
                runningJobs: all.filter { $0.state == .running }.map(\.summary),
                ledgerPath: ledger.path,
                pluginCount: await plugins.strategyIDs.count))
        case .jobs:
            return .jobs(await jobs.all().map(\.summary))
        case .job(let id), .watch(let id):
            return .job(try await job(id).detail)
        case .cancel(let id):
            return .job(try await cancel(id, peer: peer))
        case .ledger(let account):
            let summary = try account.map { name in try mapLedgerErrors { try ledger.account(named: name) } }
            let charges = try mapLedgerErrors { try ledger.charges(account: account) }
            return .ledger(LedgerReport(account: summary.map(Self.summary), charges: charges.map(Self.summary)))
        case .accounts:
            return .accounts(try ledger.accounts().map(Self.summary))
        case .plugins:
            return .plugins(await pluginSummaries())
        case .pluginsReload:
            await plugins.scan()
            return .plugins(await pluginSummaries())
        case .submitBegin(let begin):
            return .upload(try await uploads.begin(begin, connection: connection))
        case .submitChunk(let chunk):
            return .upload(try await uploads.append(chunk, connection: connection))
        case .submitEnd(let end):
            return .submitted(SubmitReceipt(dataset: try await uploads.end(end, connection: connection)))
        }
    }

    /// An upload whose connection closed was abandoned: its staging files go.
    public func connectionClosed(_ connection: ControlConnectionID) async {
        await uploads.discard(connection: connection)
    }

    public func watch(jobID: String, peer: PeerCredentials) async throws -> AsyncStream<ProgressEvent> {
        guard let stream = await jobs.watch(id: jobID) else {
            throw ControlError(.notFound, "no job \(jobID.debugDescription)")
        }
        return stream
    }

    private func job(_ id: String) async throws -> DaemonJob {
        guard let job = await jobs.job(id: id) else { throw ControlError(.notFound, "no job \(id.debugDescription)") }
        return job
    }

    /// A queued job is cancelled here (its reserved charge is kept, as for any job the
    /// ledger admitted); a running one is asked to stop through the scheduler, which ends it
    /// or says it has ended already. A job that succeeded or failed is refused: the answer
    /// is a success only when the job is, or will be, cancelled.
    ///
    /// The queued case first takes the job out of the queue (``JobStore/withdraw(id:)``):
    /// only then is it certain that no worker starts it while the ledger records the cancel.
    /// A job that started meanwhile is cancelled as a running one.
    private func cancel(_ id: String, peer: PeerCredentials) async throws -> JobDetail {
        if let withdrawn = await jobs.withdraw(id: id) {
            let reason = "cancelled by uid \(peer.uid) before it started"
            do {
                try ledger.cancel(job: id, reason: reason)
            } catch {
                await jobs.restore(id: id)
                throw error
            }
            // The dataset goes to done/ before the record turns final, as the scheduler
            // settles: start-up reconciliation takes a dataset left in accepted/ without a
            // live job for an admission that was never recorded.
            var ended = withdrawn
            (ended.state, ended.reason) = (.cancelled, reason)
            let resultFile = try spool.fileResult(of: ended)
            try await jobs.finish(id: id, state: .cancelled, reason: reason, resultFile: resultFile)
            return try await job(id).detail
        }
        let state = try await job(id).state
        switch state {
        case .running:
            if let refusal = await canceller?.cancel(jobID: id) {
                throw ControlError(.notCancellable, "job \(id) cannot be cancelled: \(refusal)")
            }
        case .succeeded, .failed:
            throw ControlError(.notCancellable, "job \(id) cannot be cancelled: it has \(state.rawValue)")
        case .queued, .cancelled:
            // Queued here means another cancel of the same job is under way.
            break
        }
        return try await job(id).detail
    }

    private func pluginSummaries() async -> [PluginSummary] {
        await plugins.listing().map { row in
            PluginSummary(
                id: row.id ?? "", version: row.version ?? "", file: row.file,
                loadedAt: row.loadedAt ?? Date(timeIntervalSince1970: 0),
                state: PluginState(rawValue: row.state.rawValue) ?? .refused, reason: row.reason, jobs: row.jobs)
        }
    }

    /// Runs a ledger query, turning an unknown account into `not_found`.
    private func mapLedgerErrors<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as LedgerError where error.code == .unknownAccount {
            throw ControlError(.notFound, error.message)
        }
    }

    private static func summary(_ account: Ledger.AccountSummary) -> Control.AccountSummary {
        Control.AccountSummary(
            name: account.name, epsilonCap: account.epsilonCap, delta: account.deltaCap,
            epsilonSpent: account.epsilonSpent, epsilonRemaining: account.epsilonRemaining, jobCount: account.jobCount,
            closedAt: account.closedAt)
    }

    private static func summary(_ charge: ChargeRecord) -> ChargeSummary {
        ChargeSummary(
            chargeID: String(charge.id), jobID: charge.jobID, account: charge.account, task: charge.task,
            strategy: charge.strategy, mechanism: charge.mechanism, epsilon: charge.epsilon,
            state: charge.state == .reserved ? .reserved : .committed, reason: charge.reason,
            time: charge.committedAt ?? charge.reservedAt)
    }
}
