// SPDX-License-Identifier: Apache-2.0
@testable import Daemon
import Foundation
import Ledger
import Privacy
import Testing
import TestSupport

/// `dptuned train --ledger FILE`: a foreground job is admitted against the ledger before
/// it trains, as intake admits a dataset, and settled when it ends.
@Suite(.disabled(if: SharedFixtures.mayBeSkipped, Comment(rawValue: SharedFixtures.skipMessage)))
struct ForegroundChargeTests {
    static func manifest(account: String, epsilon: Double) -> String {
        #"""
        {"account": "\#(account)", "strategy": "bitfit", "labels": {"sentiment": ["negative", "positive"]},
         "privacy": {"epsilon": \#(epsilon), "delta": 1e-5, "accountant": "rdp"},
         "train": {"epochs": 1, "expected_batch": 8, "max_len": 16}}
        """#
    }

    func train(_ fixture: DaemonFixture, account: String, epsilon: Double, out: URL) throws -> ProductExecutable.Result {
        let data = try fixture.directory.write("reviews.jsonl", Data(DaemonFixture.dataset(records: 40).utf8))
        let manifest = try fixture.directory.write("reviews.manifest.json", Data(Self.manifest(account: account, epsilon: epsilon).utf8))
        return try ProductExecutable("dptuned").run([
            "train", data, "--manifest", manifest, "--backbone", SharedFixtures.url("models/minilm-l6").path,
            "--out", out.path, "--ledger", fixture.config.paths.ledger.path, "--json",
        ])
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
}
