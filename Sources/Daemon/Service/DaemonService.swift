// SPDX-License-Identifier: Apache-2.0
import Control
import Dispatch
import Foundation
import Ledger
import Logging
import Spool
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The daemon: opens its parts in dependency order, tells systemd when it is ready, and
/// runs until SIGTERM or SIGINT.
///
/// Start-up order: the hold on its folders (``InstanceLock``) → ledger (refusing a damaged
/// one) → accounts → spool (completing the moves a kill interrupted) and job records →
/// reconciliation of the two → plugin registry → control socket → `READY=1` → intake of
/// what waits in `incoming/`, where the admissions left without a job record are resumed.
/// SIGHUP re-reads the accounts file and rescans the plugins. Shutdown runs in reverse:
/// intake and the control socket close, the running workers are stopped (their jobs stay
/// admitted and resume from their checkpoints at the next start, charged once), and the
/// daemon returns once no worker is left.
public final class DaemonService: Sendable {
    public static let version = "0.1.0"

    /// Makes the training seam once the plugin registry is open (the production runner
    /// takes each job's plugin version from it) and the config's copy for the workers written.
    public typealias RunnerFactory = @Sendable (PluginRegistry, ChildConfig) -> any JobRunner

    private let config: DaemonConfig
    private let environment: [String: String]
    private let executable: URL
    private let configFile: URL
    private let makeRunner: RunnerFactory?
    private let logger: Logger

    /// - Parameters:
    ///   - executable: the `dptuned` binary, run as the plugin probe and the job preflight.
    ///   - configFile: the file `config` was read from; the children read a copy of `config`'s
    ///     text as if it were this file (``ChildConfig``).
    ///   - runner: makes the training seam; nil leaves admitted jobs queued.
    public init(
        config: DaemonConfig, environment: [String: String], executable: URL, configFile: URL,
        runner: RunnerFactory?, logger: Logger
    ) {
        self.config = config
        self.environment = environment
        self.executable = executable
        self.configFile = configFile
        makeRunner = runner
        self.logger = logger
    }

    /// Reads the config file again on SIGHUP to warn of what the next start would meet. The
    /// running daemon and its children keep the config it started with: its ledger, spool
    /// and socket are open on those paths, and queued jobs were admitted under it.
    private func checkConfigFile() {
        do {
            if try DaemonConfig(contentsOf: configFile).source != config.source {
                logger.notice("the config file changed; the daemon and its jobs keep the config they started with until the next start",
                              metadata: ["dptune.config": "\(configFile.path)"])
            }
        } catch {
            logger.error("the config file no longer reads: the daemon keeps running on the config it started with, but would not start again",
                         metadata: ["dptune.config": "\(configFile.path)", "dptune.error": "\(error)"])
        }
    }

    /// Runs the daemon until a termination signal.
    ///
    /// - Throws: ``DaemonStartError`` when a part cannot be opened; nothing has been
    ///   announced to systemd then.
    public func run() async throws {
        let notifier = SystemdNotifier(environment: environment)
        let signals = SignalStream(watching: [SIGTERM, SIGINT, SIGHUP])
        // A write to a worker that has just died (its go-ahead to publish) must fail with
        // EPIPE, not end the daemon.
        signal(SIGPIPE, SIG_IGN)
        let lock = try InstanceLock([
            .init(url: config.paths.stateDirectory, role: "state directory"),
            .init(url: config.paths.spool, role: "spool"),
            .init(url: config.paths.ledger.deletingLastPathComponent(), role: "ledger's folder"),
        ])
        defer { withExtendedLifetime(lock) {} }
        let ledger = try openLedger()
        try syncAccounts(ledger)
        let spool: SpoolDirectory
        let jobs: JobStore
        let plugins: PluginRegistry
        let childConfig: ChildConfig
        do {
            childConfig = try ChildConfig.writeCopy(of: config, original: configFile)
            spool = try SpoolDirectory(root: config.paths.spool)
            // Before reconciliation and intake read the folders: a move that a kill cut short
            // would otherwise leave a dataset without its reason, or a manifest in incoming/.
            for moved in try spool.completeInterruptedMoves() {
                logger.notice("spool move completed after restart", metadata: ["dptune.dataset": "\(moved)"])
            }
            jobs = try JobStore(stateDirectory: config.paths.stateDirectory)
            plugins = try PluginRegistry(
                pluginDirectory: config.paths.plugins, stateDirectory: config.paths.stateDirectory,
                probeExecutable: executable, logger: logger)
        } catch {
            throw DaemonStartError(.stateUnusable, "cannot open the daemon's state: \(error)")
        }
        let reconciled: JobReconciliation.Outcome
        do {
            reconciled = try await JobReconciliation.reconcile(
                ledger: ledger, jobs: jobs, spool: spool, adapterDirectory: config.adapterDirectory(job:), logger: logger)
        } catch {
            throw DaemonStartError(.ledgerUnusable, "the job records and the ledger cannot be reconciled: \(error)")
        }
        let liveJobs = Set(await jobs.all().filter { !$0.state.isFinal }.map(\.id))
        for removed in LeftoverFiles.sweep(config: config, liveJobs: liveJobs) {
            logger.notice("removed what a killed preflight or worker left", metadata: ["dptune.path": "\(removed)"])
        }
        await plugins.scan()
        await plugins.restoreWithdrawn(strategies: Set(await jobs.all().filter { !$0.state.isFinal }.map(\.strategy)))
        let runner = makeRunner?(plugins, childConfig)
        let intake = IntakeService(
            spool: spool, config: config, strategies: { await plugins.catalog },
            preflight: JobPreflight(executable: executable, config: childConfig,
                                    stagingDirectory: config.preflightStagingDirectory),
            ledger: ledger, jobs: jobs, orphans: reconciled.orphans, logger: logger)
        @Sendable func status() async -> String {
            let running = await jobs.all().filter { $0.state == .running }
            let steps = running.map { "\($0.id) step \($0.step)/\($0.steps)" }.joined(separator: ", ")
            return "\(await jobs.queuedIDs.count) queued, \(running.count) running" + (steps.isEmpty ? "" : ": \(steps)")
        }
        let progressStatus = Throttle(interval: .seconds(1))
        let scheduler = runner.map { runner in
            JobScheduler(
                jobs: jobs, ledger: ledger, spool: spool, runner: runner, workers: config.scheduler.workers,
                scratchFiles: { [config] id in LeftoverFiles.ofSettledJob(id, config: config) },
                logger: logger
            ) { _ in
                // At most one STATUS= a second, however fast the steps.
                if progressStatus.admit() { notifier.status(await status()) }
            }
        }
        let handler = DaemonControlHandler(
            ledger: ledger, jobs: jobs, plugins: plugins, spool: spool, canceller: scheduler, version: Self.version)
        let server = ControlServer(configuration: try controlConfiguration(), handler: handler)
        try server.start()
        let watcher: SpoolWatcher
        do {
            watcher = try SpoolWatcher(directory: spool.url(of: .incoming))
        } catch {
            await server.shutdown()
            throw DaemonStartError(.stateUnusable, "cannot watch \(spool.url(of: .incoming).path): \(error)")
        }
        let pluginWatch = PluginDirectoryWatch(directory: config.paths.plugins, registry: plugins, logger: logger)
        notifier.ready(status: await status())
        logger.notice("dptuned ready", metadata: [
            "dptune.socket": "\(config.control.path)", "dptune.ledger": "\(ledger.path)",
        ])

        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await server.run() }
            if let scheduler { group.addTask { await scheduler.run() } }
            group.addTask {
                await intake.scanIncoming()
                scheduler?.wake()
                notifier.status(await status())
                await intake.follow(watcher.events) {
                    scheduler?.wake()
                    notifier.status(await status())
                }
            }
            group.addTask { await pluginWatch.run() }
            if let interval = notifier.watchdogPingInterval {
                // Pings only while the job store and the scheduler still answer: a hung
                // daemon stops pinging; a slow worker is another process and does not matter.
                group.addTask {
                    while !Task.isCancelled {
                        _ = await jobs.queuedIDs
                        await scheduler?.heartbeat()
                        notifier.watchdog()
                        try? await Task.sleep(for: interval)
                    }
                }
            }
            for await signal in signals.events {
                if signal == SIGHUP {
                    notifier.reloading()
                    logger.notice("reloading accounts and plugins")
                    do { try syncAccounts(ledger) } catch { logger.error("accounts not reloaded", metadata: ["dptune.error": "\(error)"]) }
                    checkConfigFile()
                    // Probes run beside this loop: a SIGTERM meanwhile must not wait out a
                    // hung plugin's deadline.
                    group.addTask {
                        await plugins.scan()
                        notifier.ready(status: await status())
                    }
                    continue
                }
                break
            }
            notifier.stopping()
            logger.notice("dptuned stopping")
            // Intake takes no other dataset, and leaves the one in hand if its preflight is
            // still running: the group below waits for its task, which must not run through
            // the whole backlog nor wait out a preflight.
            intake.stop()
            plugins.stop()
            watcher.close()
            pluginWatch.close()
            // Workers are told first: one that a terminal's Ctrl-C also reached must find
            // the daemon already stopping, or its job would be settled as cancelled.
            async let drained: Void? = scheduler?.drain()
            await server.shutdown()
            _ = await drained
            group.cancelAll()
        }
        signals.stop()
    }

    /// Opens the ledger, creating it only on a first start (no job records yet): a ledger
    /// that vanished after jobs ran must not silently start empty.
    private func openLedger() throws -> LedgerStore {
        let path = config.paths.ledger.path
        let jobsFolder = config.paths.stateDirectory.appendingPathComponent("jobs").path
        let firstStart = !FileManager.default.fileExists(atPath: path)
            && ((try? FileManager.default.contentsOfDirectory(atPath: jobsFolder))?.isEmpty ?? true)
        do {
            try FileManager.default.createDirectory(
                at: config.paths.ledger.deletingLastPathComponent(), withIntermediateDirectories: true)
            return try LedgerStore(path: path, create: firstStart, curveEvaluator: LedgerStore.accountantCurves)
        } catch let error as LedgerError {
            throw DaemonStartError(.ledgerUnusable, "the privacy ledger \(path) cannot be used: \(error.message)")
        } catch {
            throw DaemonStartError(.ledgerUnusable, "the privacy ledger \(path) cannot be opened: \(error)")
        }
    }

    private func syncAccounts(_ ledger: LedgerStore) throws {
        do {
            let sync = try ledger.syncAccounts(AccountsFile(contentsOf: config.paths.accounts))
            logger.info("accounts loaded", metadata: [
                "dptune.created": "\(sync.created)", "dptune.updated": "\(sync.updated)",
                "dptune.reopened": "\(sync.reopened)",
            ])
            if !sync.closed.isEmpty {
                logger.warning(
                    "accounts closed: the accounts file no longer lists them; they admit no new job, their spending and jobs stay on record, and listing them again reopens them",
                    metadata: ["dptune.closed": "\(sync.closed)"])
            }
        } catch let error as LedgerError {
            throw DaemonStartError(.accountsRefused, "accounts file refused: \(error.message)")
        }
    }

    private func controlConfiguration() throws -> ControlServer.Configuration {
        let adopted = SocketActivation.listenDescriptors(environment: environment)
        let group = try config.control.group.map(ControlServer.Configuration.groupID(named:))
        let adminGroup = try config.control.adminGroup.map(ControlServer.Configuration.groupID(named:))
        let listener: ControlServer.Configuration.Listener
        if let descriptor = adopted.first {
            listener = .adopted(descriptor: descriptor)
        } else {
            try FileManager.default.createDirectory(
                atPath: (config.control.path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            listener = .path(config.control.path, group: group)
        }
        return ControlServer.Configuration(
            listener: listener, adminGroup: adminGroup, requestTimeout: config.control.requestTimeout,
            maxConnections: config.control.maxConnections)
    }
}

/// Lets at most one call through per interval.
private final class Throttle: Sendable {
    private let interval: Duration
    private let last = Mutex<ContinuousClock.Instant?>(nil)

    init(interval: Duration) { self.interval = interval }

    func admit(now: ContinuousClock.Instant = .now) -> Bool {
        last.withLock { last in
            if let previous = last, now - previous < interval { return false }
            last = now
            return true
        }
    }
}
