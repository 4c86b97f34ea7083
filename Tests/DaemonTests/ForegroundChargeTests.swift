// SPDX-License-Identifier: Apache-2.0
@testable import Daemon
import Foundation
import Ledger
import Privacy
import Spool
import Testing
import TestSupport

/// `dptuned train --ledger FILE`: a foreground job is admitted against the ledger before
/// it trains, as intake admits a dataset, and settled when it ends.
@Suite(.disabled(if: SharedFixtures.mayBeSkipped, Comment(rawValue: SharedFixtures.skipMessage)))
struct ForegroundChargeTests {
    static func manifest(account: String, epsilon: Double, epochs: Int = 1) -> String {
        #"""
        {"account": "\#(account)", "strategy": "bitfit", "labels": {"sentiment": ["negative", "positive"]},
         "privacy": {"epsilon": \#(epsilon), "delta": 1e-5, "accountant": "rdp"},
         "train": {"epochs": \#(epochs), "expected_batch": 8, "max_len": 16}}
        """#
    }

    /// `dptuned train`'s arguments for a 40-record job charged to `fixture`'s ledger.
    func arguments(_ fixture: DaemonFixture, account: String, epsilon: Double, epochs: Int = 1, out: URL) throws -> [String] {
        let data = try fixture.directory.write("reviews.jsonl", Data(DaemonFixture.dataset(records: 40).utf8))
        let manifest = try fixture.directory.write(
            "reviews.manifest.json", Data(Self.manifest(account: account, epsilon: epsilon, epochs: epochs).utf8))
        return [
            "train", data, "--manifest", manifest, "--backbone", SharedFixtures.url("models/minilm-l6").path,
            "--out", out.path, "--ledger", fixture.config.paths.ledger.path,
        ]
    }

    func train(_ fixture: DaemonFixture, account: String, epsilon: Double, out: URL) throws -> ProductExecutable.Result {
        try ProductExecutable("dptuned").run(arguments(fixture, account: account, epsilon: epsilon, out: out) + ["--json"])
    }

    /// The job's charge is the event its card prices, committed once it published.
    @Test func aForegroundJobIsChargedWhatItsCardStates() throws {
        let fixture = try DaemonFixture()
        let ledger = try fixture.openLedger()
        let out = fixture.directory.url.appendingPathComponent("adapter")
        let result = try train(fixture, account: "acme", epsilon: 2, out: out)
        #expect(result.status == 0, "\(result.standardError)")
        let card = try #require(try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
        let jobID = try #require(card["job_id"] as? String)
        let charges = try ledger.charges(account: "acme")
        #expect(charges.map(\.jobID) == [jobID])
        let privacy = try #require(card["privacy"] as? [String: Any])
        let event = try JSONDecoder().decode(
            DpEvent.self, from: JSONSerialization.data(withJSONObject: try #require(privacy["event"])))
        #expect(charges.first?.event == event)
        #expect(try ledger.job(id: jobID).state == .succeeded)
    }

    /// An account that cannot afford the job gets the ledger's refusal, one line and status
    /// 65 (refused input, not a wrong command line), and nothing trains.
    @Test func aJobTheBudgetCannotPayIsRefusedBeforeTraining() throws {
        let fixture = try DaemonFixture()
        let ledger = try fixture.openLedger()
        let out = fixture.directory.url.appendingPathComponent("adapter")
        let result = try train(fixture, account: "poor", epsilon: 2, out: out)
        #expect(result.status == 65, "\(result.standardError)")
        #expect(result.standardError.contains("budget_exhausted"), "\(result.standardError)")
        #expect(!result.standardError.contains("Usage:"), "\(result.standardError)")
        #expect(!FileManager.default.fileExists(atPath: out.path))
        #expect(try ledger.charges(account: "poor").isEmpty)
    }

    /// An account the accounts file no longer lists refuses a foreground run as it refuses
    /// a dropped dataset, and nothing trains.
    @Test func aClosedAccountRefusesTheRun() throws {
        let fixture = try DaemonFixture()
        let ledger = try fixture.openLedger()
        try ledger.syncAccounts(AccountsFile(parsing: "[accounts.acme]\nepsilon = 20\ndelta = 1e-5\n"))
        let out = fixture.directory.url.appendingPathComponent("adapter")
        let result = try train(fixture, account: "poor", epsilon: 2, out: out)
        #expect(result.status == 65, "\(result.standardError)")
        #expect(result.standardError.contains("account_closed"), "\(result.standardError)")
        #expect(!FileManager.default.fileExists(atPath: out.path))
        #expect(try ledger.charges(account: "poor").isEmpty)
    }

    /// An `--out` that exists is refused as a wrong command line before the ledger is asked:
    /// the run used to train, be charged, and fail at the end when its adapter could not be
    /// renamed over the folder.
    @Test func anExistingOutputFolderIsRefusedBeforeTheCharge() throws {
        let fixture = try DaemonFixture()
        let ledger = try fixture.openLedger()
        let out = fixture.directory.url.appendingPathComponent("adapter")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: false)
        let result = try train(fixture, account: "acme", epsilon: 2, out: out)
        #expect(result.status == 64, "\(result.standardError)")
        #expect(result.standardError.contains("--out \(out.path) exists"), "\(result.standardError)")
        #expect(try ledger.charges(account: "acme").isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).isEmpty)
    }

    /// A run of a thousand epochs, its standard error piped: long enough to be stopped.
    func startLongRun(_ fixture: DaemonFixture, out: URL) throws -> (process: Process, errors: Pipe) {
        let process = Process()
        process.executableURL = try ProductExecutable("dptuned").url
        process.arguments = try arguments(fixture, account: "acme", epsilon: 2, epochs: 1_000, out: out)
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return (process, errors)
    }

    /// What the run wrote up to its second step's line; nil if its output ended before.
    func secondStep(of errors: Pipe) async throws -> String? {
        try await onOwnThread { () -> String? in
            var text = ""
            while !text.contains("step 2/") {
                let chunk = errors.fileHandleForReading.availableData
                if chunk.isEmpty { return nil }
                text += String(decoding: chunk, as: UTF8.self)
            }
            return text
        }
    }

    /// A Ctrl-C stops the run after a step and cancels its charge: the daemon leaves a
    /// foreground run's admission to that run, so an unsettled one would stay admitted.
    @Test func aRunStoppedBySIGINTCancelsItsCharge() async throws {
        let fixture = try DaemonFixture()
        let ledger = try fixture.openLedger()
        let out = fixture.directory.url.appendingPathComponent("adapter")
        let (process, errors) = try startLongRun(fixture, out: out)
        defer { if process.isRunning { process.terminate() } }
        let seen = try #require(try await secondStep(of: errors), "the run never reached its second step")
        let stderr = try await onOwnThread { () -> String in
            kill(process.processIdentifier, SIGINT)
            process.waitUntilExit()
            return seen + String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        }
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 1, "\(stderr)")
        let jobID = try #require(try ledger.charges(account: "acme").first?.jobID)
        let job = try ledger.job(id: jobID)
        #expect(job.state == .cancelled)
        #expect(job.reason?.hasPrefix("stopped by a signal: stopped after step ") == true, "\(job.reason ?? "")")
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("model_card.json").path))
    }

    /// A run killed with SIGKILL settles nothing: a daemon starting while it trains leaves
    /// its admission alone, and one starting after it died fails the admission, its charge
    /// kept. Before, the admission stayed admitted for ever.
    @Test func aRunKilledUnsettledIsFailedByTheDaemonsNextStart() async throws {
        let fixture = try DaemonFixture()
        let ledger = try fixture.openLedger()
        let out = fixture.directory.url.appendingPathComponent("adapter")
        let (process, errors) = try startLongRun(fixture, out: out)
        defer { if process.isRunning { process.terminate() } }
        try #require(try await secondStep(of: errors) != nil, "the run never reached its second step")
        let jobID = try #require(try ledger.charges(account: "acme").first?.jobID)
        func reconcile() async throws -> [String] {
            try await JobReconciliation.reconcile(
                ledger: ledger, jobs: try JobStore(stateDirectory: fixture.config.paths.stateDirectory),
                spool: try SpoolDirectory(root: fixture.config.paths.spool),
                adapterDirectory: fixture.config.adapterDirectory(job:), logger: DaemonFixture.logger).changed
        }
        #expect(try await reconcile().isEmpty)
        #expect(try ledger.job(id: jobID).state == .admitted)

        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(try await reconcile() == [jobID])
        let job = try ledger.job(id: jobID)
        #expect(job.state == .failed)
        #expect(job.reason?.contains("ended without settling it") == true, "\(job.reason ?? "")")
        #expect(try ledger.charges(account: "acme").map(\.state) == [.committed])
    }
}
