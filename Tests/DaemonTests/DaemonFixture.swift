// SPDX-License-Identifier: Apache-2.0
import Daemon
import Foundation
import Ledger
import Logging
import Spool
import TestSupport

/// A daemon's on-disk world in a temporary directory: config, accounts, ledger, spool and
/// job store, with one backbone (`tiny`) and the strategy `lora` known.
struct DaemonFixture {
    static let accounts = """
        [accounts.acme]
        epsilon = 20
        delta = 1e-5

        [accounts.poor]
        epsilon = 0.5
        delta = 1e-5
        """

    let directory: TemporaryDirectory
    let configFile: URL
    let config: DaemonConfig

    init() throws {
        directory = try TemporaryDirectory(prefix: "dptune-daemon")
        _ = try directory.write("accounts.toml", Self.accounts)
        let source = """
            [paths]
            state = "state"
            spool = "spool"
            plugins = "plugins"
            ledger = "state/ledger.sqlite"
            accounts = "accounts.toml"
            models = "models"

            [control]
            socket = "run/control.sock"
            request_timeout_seconds = 5

            [defaults]
            backbone = "tiny"
            strategy = "lora"

            [defaults.privacy]
            accountant = "rdp"

            [models]
            tiny = "tiny"
            """
        configFile = URL(fileURLWithPath: try directory.write("dptuned.toml", source))
        config = try DaemonConfig(contentsOf: configFile)
    }

    /// Opens (creating) the ledger with the fixture's accounts.
    func openLedger() throws -> LedgerStore {
        try FileManager.default.createDirectory(at: config.paths.stateDirectory, withIntermediateDirectories: true)
        let ledger = try LedgerStore(path: config.paths.ledger.path, create: true, curveEvaluator: LedgerStore.accountantCurves)
        _ = try ledger.syncAccounts(AccountsFile(parsing: Self.accounts))
        return ledger
    }

    /// `count` sentiment records, one per line.
    static func dataset(records count: Int) -> String {
        (0..<count).map { index in
            #"{"instruction": "Rate the review.", "input": "review \#(index)", "output": "\#(index % 2 == 0 ? "positive" : "negative")", "task": "sentiment"}"#
        }.joined(separator: "\n") + "\n"
    }

    /// A manifest of objective `classify` with one two-label task, or of objective `generate`.
    static func manifest(account: String, epsilon: Double = 2, backbone: String = "tiny", strategy: String = "lora",
                         generate: Bool = false) -> String {
        let objective = generate ? #""objective": "generate""# : #""labels": {"sentiment": ["negative", "positive"]}"#
        return #"""
        {"account": "\#(account)", "backbone": "\#(backbone)", "strategy": "\#(strategy)",
         \#(objective),
         "privacy": {"epsilon": \#(epsilon), "delta": 1e-5, "accountant": "rdp"},
         "train": {"epochs": 1, "expected_batch": 20}}
        """#
    }

    /// Drops `NAME.manifest.json` and `NAME.jsonl` into `incoming/`.
    func drop(_ name: String, manifest: String, records: Int = 200) throws {
        let incoming = config.paths.spool.appendingPathComponent("incoming")
        try Data(manifest.utf8).write(to: incoming.appendingPathComponent("\(name).manifest.json"))
        try Data(Self.dataset(records: records).utf8).write(to: incoming.appendingPathComponent("\(name).jsonl"))
    }

    func errorCode(of name: String) throws -> String? {
        let url = config.paths.spool.appendingPathComponent("rejected/\(name).error.json")
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
        return object?["code"] as? String
    }

    func errorMessage(of name: String) throws -> String? {
        let url = config.paths.spool.appendingPathComponent("rejected/\(name).error.json")
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
        return object?["message"] as? String
    }

    static let logger = Logger(label: "dptune.test")

}

/// A daemon's intake side over a ``DaemonFixture``: ledger, spool, job store and intake.
struct DaemonWorld {
    let fixture: DaemonFixture
    let ledger: LedgerStore
    let spool: SpoolDirectory
    let jobs: JobStore
    let intake: IntakeService

    init() throws {
        fixture = try DaemonFixture()
        ledger = try fixture.openLedger()
        spool = try SpoolDirectory(root: fixture.config.paths.spool)
        jobs = try JobStore(stateDirectory: fixture.config.paths.stateDirectory)
        intake = IntakeService(
            spool: spool, config: fixture.config, strategies: { ["lora"] }, ledger: ledger, jobs: jobs,
            logger: DaemonFixture.logger)
    }
}
