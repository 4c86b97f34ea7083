// SPDX-License-Identifier: Apache-2.0
import Foundation
import Ledger
import Logging
import Records
import Spool
import Synchronization
import Training
import Transformer

/// Takes datasets from the spool's `incoming/` to a queued job or to `rejected/`.
///
/// Scans `incoming/` at start-up, then reacts to the watcher. Every dataset ends in
/// `accepted/` with a ledger reservation and a queued job, or in `rejected/` with its error;
/// a bad dataset never stops the service. Once the daemon stops (``stop()``), no dataset is
/// taken any more, and the one whose preflight is running is left too: the rest stay in
/// `incoming/` for the next start.
///
/// At start-up it also takes the admissions that the last run made without recording their
/// job (``OrphanAdmissions``): each is resumed when its dataset comes through unchanged, and
/// failed otherwise, its charge kept. The scan that finds none of them left fails the rest.
///
/// A dataset that could not be taken for a cause of the host (a full disk, a ledger it
/// cannot write: ``IntakeError/Code/intakeDeferred``, or a spool failure) stays in
/// `incoming/` and is tried again on a ``RetrySchedule``, without waiting for another event
/// about it or for a restart.
public final class IntakeService: Sendable {
    private let spool: SpoolDirectory
    private let validator: DatasetValidator
    private let defaults: ManifestDefaults
    private let heldOutFraction: Double
    private let backbones: Set<String>
    private let backboneFamilies: [String: BackboneFamily]
    private let strategies: @Sendable () async -> StrategyCatalog
    private let preflight: JobPreflight?
    private let ledger: LedgerStore
    private let jobs: JobStore
    private let logger: Logger
    private let stopping = Atomic(false)
    /// The admissions to resume, by their dataset's name in `incoming/`; each is taken once.
    private let orphans: Mutex<[String: JobRecord]>
    private let retrySchedule: RetrySchedule
    /// The datasets left in `incoming/` for the host's sake, by name: the wait before their
    /// last try was scheduled, and whether that try is still to come.
    private let deferred = Mutex<[String: (delay: Duration, pending: Bool)]>([:])
    /// The names whose wait is over, for ``follow(_:afterEach:)`` to take in turn with the
    /// watcher's events (never beside them: two intakes of one dataset would admit it twice).
    private let retries: AsyncStream<String>
    private let retry: AsyncStream<String>.Continuation

    /// - Parameters:
    ///   - strategies: the strategy ids new jobs may use now (the plugin registry's current ones).
    ///   - preflight: prepares each job in a child before admission; nil admits without.
    ///   - orphans: the admissions without a job record to resume, by their dataset's name in
    ///     `incoming/` (``JobReconciliation``).
    ///   - retrySchedule: the waits before each new try of a dataset left for the host's sake.
    public init(
        spool: SpoolDirectory, config: DaemonConfig, strategies: @escaping @Sendable () async -> StrategyCatalog,
        preflight: JobPreflight? = nil, ledger: LedgerStore, jobs: JobStore, orphans: [String: JobRecord] = [:],
        retrySchedule: RetrySchedule = .standard, logger: Logger
    ) {
        self.spool = spool
        validator = DatasetValidator(maxLineLength: config.intake.maxLineBytes, maxRecords: config.intake.maxRecords)
        defaults = config.defaults
        heldOutFraction = config.heldOutFraction
        backbones = Set(config.models.keys)
        // Read once here, from config.json alone; a directory that cannot tell is left to the worker.
        backboneFamilies = config.models.compactMapValues { try? backboneFamily(directory: $0) }
        self.strategies = strategies
        self.preflight = preflight
        self.ledger = ledger
        self.jobs = jobs
        self.orphans = Mutex(orphans)
        self.retrySchedule = retrySchedule
        (retries, retry) = AsyncStream.makeStream(of: String.self)
        self.logger = logger
    }

    /// Takes no new dataset from now on, and kills a preflight in progress; a dataset past
    /// its preflight still ends accepted or rejected.
    ///
    /// A daemon asked to stop must not spend its shutdown admitting (and charging) a whole
    /// backlog, nor waiting out a preflight (up to its timeout, ten minutes by default, for
    /// a large model or a stuck plugin): systemd would kill it at its stop timeout, mid-way.
    /// Nothing is lost by stopping early, since a dataset not taken stays in `incoming/`
    /// and the next start scans it again.
    public func stop() {
        stopping.store(true, ordering: .relaxed)
        retry.finish()
    }

    private var isStopping: Bool { stopping.load(ordering: .relaxed) }

    /// Processes every name now in `incoming/`, oldest first, until ``stop()``.
    public func scanIncoming() async {
        rejectUndecodableNames()
        do {
            let names = try spool.scan(.incoming)
            for (index, name) in names.enumerated() {
                if isStopping {
                    logger.notice("stopping: datasets left in incoming/ for the next start",
                                  metadata: ["dptune.count": "\(names.count - index)"])
                    return
                }
                _ = await process(name)
            }
        } catch {
            logger.error("cannot scan the spool's incoming folder", metadata: ["dptune.error": "\(error)"])
            return
        }
        // Every name in incoming/ was processed: an orphan left was not among them, unless
        // intake stopped meanwhile and left it for the next start.
        if isStopping { return }
        // A dataset deferred for the host's sake was among them, and is still to come.
        let waiting = deferred.withLock { Set($0.keys) }
        let unclaimed = orphans.withLock { orphans in
            let left = orphans.filter { !waiting.contains($0.key) }
            for name in left.keys { orphans[name] = nil }
            return Array(left.values)
        }
        for orphan in unclaimed {
            failOrphan(orphan, reason: "was not found in incoming/")
        }
    }

    /// Processes names as the watcher reports them, and the datasets due for another try,
    /// one at a time, until the watcher's stream ends or ``stop()``.
    ///
    /// - Parameter afterEach: called after each event is handled (the daemon updates its
    ///   `STATUS=` line).
    public func follow(
        _ events: AsyncStream<SpoolWatcher.Event>, afterEach: @Sendable () async -> Void = {}
    ) async {
        enum Input: Sendable {
            case watched(SpoolWatcher.Event)
            case due(String)
        }
        let (inputs, input) = AsyncStream.makeStream(of: Input.self)
        let forwarders = [
            Task {
                for await event in events { input.yield(.watched(event)) }
                input.finish()
            },
            Task { [retries] in
                for await name in retries { input.yield(.due(name)) }
            },
        ]
        defer { for forwarder in forwarders { forwarder.cancel() } }
        for await next in inputs {
            if isStopping { return }
            switch next {
            case .watched(.arrived(let name)): _ = await process(name)
            case .watched(.undecodableName): rejectUndecodableNames()
            case .watched(.overflow): await scanIncoming()
            case .watched(.departed): continue
            case .due(let name):
                deferred.withLock { $0[name]?.pending = false }
                _ = await process(name)
            }
            await afterEach()
        }
    }

    /// Rejects the files in `incoming/` whose names are not valid UTF-8, by their bytes:
    /// ``process(_:)`` takes a `String`, which cannot name them, and each would otherwise
    /// stay in `incoming/` and be tried again at every scan.
    private func rejectUndecodableNames() {
        do {
            for rejected in try spool.rejectUndecodableNames() {
                logger.notice("dataset rejected", metadata: [
                    "dptune.dataset": "\(rejected)", "dptune.code": "\(IntakeError.Code.unsafePath)",
                    "dptune.reason": "the name is not valid UTF-8",
                ])
            }
        } catch {
            logger.error("cannot reject a name that is not valid UTF-8", metadata: ["dptune.error": "\(error)"])
        }
    }

    /// Validates, admits and queues the dataset `name`, or rejects it.
    ///
    /// - Returns: the queued job, or nil when the dataset was rejected, there was nothing to
    ///   do, or intake has stopped (the dataset then stays in `incoming/`).
    @discardableResult
    public func process(_ name: String) async -> DaemonJob? {
        if isStopping { return nil }
        // Intake may be told of the manifest first; the ledger records the dataset's name.
        let dataset = OrphanAdmissions.datasetName(name)
        let orphan = orphans.withLock { $0.removeValue(forKey: dataset) }
        let policy: LedgerAdmissionPolicy
        do {
            policy = try LedgerAdmissionPolicy(
                backbones: backbones, backboneFamilies: backboneFamilies, strategies: await strategies(),
                preflight: preflight, ledger: ledger, spoolName: dataset, heldOutFraction: heldOutFraction,
                jobID: DaemonJobID.make(), resuming: orphan, isStopping: { [self] in isStopping })
        } catch {
            // An orphan stays admitted, with its dataset in incoming/, for the next try.
            if let orphan { orphans.withLock { $0[dataset] = orphan } }
            deferIntake(of: dataset, because: "cannot read the ledger's accounts: \(error)")
            return nil
        }
        let (job, orphanOutcome) = await admit(name, policy: policy)
        if let orphan {
            if let orphanOutcome, policy.admitted?.jobID != orphan.id {
                failOrphan(orphan, reason: policy.resumeRefusal.map { "differs from what was admitted: \($0)" } ?? orphanOutcome)
            } else if orphanOutcome == nil, policy.admitted == nil {
                // Its dataset was left in incoming/, for the next try or the next start.
                orphans.withLock { $0[dataset] = $0[dataset] ?? orphan }
            }
        }
        return job
    }

    /// Validates, admits and queues the dataset `name` under `policy`.
    ///
    /// - Returns: the queued job, if any, and what became of the dataset, for an orphan's
    ///   failure reason; nil when intake stopped and left the dataset (and an orphan's
    ///   admission) for the next start.
    private func admit(_ name: String, policy: LedgerAdmissionPolicy) async -> (DaemonJob?, String?) {
        let intake = SpoolIntake(spool: spool, validator: validator, defaults: defaults, policy: policy)
        let outcome: SpoolIntake.Outcome
        do {
            // Validation reads the whole dataset and the preflight waits for a child: both
            // block, so they run off the cooperative pool the control socket shares.
            outcome = try await onOwnThread { try intake.process(name) }
        } catch {
            let dataset = OrphanAdmissions.datasetName(name)
            keepForResumption(policy, dataset: dataset)
            deferIntake(of: dataset, because: "spool failure during intake: \(error)")
            return (nil, nil)
        }
        let dataset = OrphanAdmissions.datasetName(name)
        if case .deferred = outcome {} else {
            deferred.withLock { $0[dataset] = nil }
        }
        switch outcome {
        case .ignored:
            await failAdmitted(policy, reason: "the dataset vanished from incoming/ before it was accepted")
            return (nil, "vanished from incoming/")
        case .stopped:
            logger.notice("stopping: preflight killed, dataset left in incoming/ for the next start",
                          metadata: ["dptune.dataset": "\(dataset)"])
            return (nil, nil)
        case .deferred(let error):
            // Nothing was admitted: the policy defers only before it asks the ledger.
            deferIntake(of: dataset, because: error.message)
            return (nil, nil)
        case .rejected(let rejected, let error):
            logger.notice("dataset rejected", metadata: [
                "dptune.dataset": "\(rejected)", "dptune.code": "\(error.code)", "dptune.reason": "\(error.message)",
            ])
            return (nil, "was rejected (\(error.code)): \(error.message)")
        case .accepted(let accepted):
            guard let granted = policy.admitted else {
                logger.critical("dataset accepted without an admission", metadata: ["dptune.dataset": "\(accepted.name)"])
                return (nil, "was accepted without an admission")
            }
            let job = DaemonJob(
                id: granted.jobID, dataset: accepted.name, manifest: accepted.manifest,
                heldOutFraction: heldOutFraction, plan: granted.plan, labelShare: granted.labelShare,
                datasetSHA256: granted.datasetSHA256, chargeIDs: granted.admission.chargeIDs, createdAt: Date())
            do {
                try await jobs.enqueue(job)
            } catch {
                // The dataset is in accepted/: the next start finds the admission without a
                // record and resumes it from there (``OrphanAdmissions``).
                logger.error("the job record could not be written; the admission is resumed at the next start", metadata: [
                    "dptune.job": "\(job.id)", "dptune.dataset": "\(job.dataset)", "dptune.error": "\(error)",
                ])
                return (nil, nil)
            }
            logger.info(granted.resumed ? "job queued under its admission resumed after restart" : "job queued", metadata: [
                "dptune.job": "\(job.id)", "dptune.account": "\(job.account)", "dptune.dataset": "\(job.dataset)",
                "dptune.steps": "\(job.steps)", "dptune.sigma": "\(job.noiseMultiplier)",
            ])
            return (job, "was accepted")
        }
    }

    /// Leaves the dataset `name` in `incoming/` and has ``follow(_:afterEach:)`` take it
    /// again once the schedule's next wait is over, unless a try is already scheduled.
    private func deferIntake(of name: String, because reason: String) {
        guard !isStopping else { return }
        let delay: Duration? = deferred.withLock { deferred in
            if deferred[name]?.pending == true { return nil }
            let delay = retrySchedule.delay(after: deferred[name]?.delay)
            deferred[name] = (delay, true)
            return delay
        }
        logger.error("cannot take the dataset now; it stays in incoming/ and is tried again", metadata: [
            "dptune.dataset": "\(name)", "dptune.reason": "\(reason)",
            "dptune.retry_in_seconds": "\(delay.map { "\($0 / .seconds(1))" } ?? "already scheduled")",
        ])
        guard let delay else { return }
        Task { [retry] in
            try? await Task.sleep(for: delay)
            retry.yield(name)
        }
    }

    /// Keeps an admission whose dataset the spool could not accept (a full disk, mostly)
    /// for the next intake of that dataset, in this run or after a restart, to resume under
    /// the same job id and charge. Failing it charged the dataset again at the next event
    /// for it, or twice at a start-up scan told of both its files.
    private func keepForResumption(_ policy: LedgerAdmissionPolicy, dataset: String) {
        guard let granted = policy.admitted else { return }
        do {
            let admission = try ledger.job(id: granted.jobID)
            orphans.withLock { $0[dataset] = admission }
            logger.notice("the admission is kept: the dataset's next intake resumes it", metadata: [
                "dptune.job": "\(granted.jobID)", "dptune.dataset": "\(dataset)",
            ])
        } catch {
            logger.error("cannot read the admission back; the next start resumes it", metadata: [
                "dptune.job": "\(granted.jobID)", "dptune.error": "\(error)",
            ])
        }
    }

    /// Marks an admitted job failed when intake could not finish: its charge is kept, since
    /// the ledger never under-counts.
    private func failAdmitted(_ policy: LedgerAdmissionPolicy, reason: String) async {
        guard let granted = policy.admitted else { return }
        do {
            try ledger.fail(job: granted.jobID, reason: reason)
        } catch {
            logger.error("cannot mark the job failed in the ledger",
                         metadata: ["dptune.job": "\(granted.jobID)", "dptune.error": "\(error)"])
        }
    }

    /// Fails an orphan admission that was not resumed; its charge is kept.
    ///
    /// - Parameter outcome: what became of its dataset at this start.
    private func failOrphan(_ orphan: JobRecord, reason outcome: String) {
        let reason = "\(OrphanAdmissions.stoppedBeforeRecord), and at restart its dataset \(outcome); the charge is kept"
        do {
            try OrphanAdmissions.fail(orphan, reason: reason, ledger: ledger, logger: logger)
        } catch {
            logger.error("cannot mark the job failed in the ledger",
                         metadata: ["dptune.job": "\(orphan.id)", "dptune.error": "\(error)"])
        }
    }
}
