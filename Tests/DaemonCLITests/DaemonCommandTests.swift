// SPDX-License-Identifier: Apache-2.0
import Control
import Foundation
import TestSupport
import Testing

/// What every daemon command shares: `--json`, errors and exit statuses.
@Suite struct DaemonCommandTests {
    typealias Fake = FakeControlHandler

    struct JobList: Decodable { var jobs: [JobSummary] }
    struct AccountList: Decodable { var accounts: [AccountSummary] }

    @Test func jsonDecodesToWhatTheDaemonSent() async throws {
        try await CLIFixture.with { fixture in
            let jobs = try await fixture.run("--json", "jobs")
            #expect(jobs.status == 0)
            #expect(try CLIFixture.decode(JobList.self, from: jobs.standardOutput).jobs == [Fake.job])

            let job = try await fixture.run("--json", "job", "job-1")
            #expect(try CLIFixture.decode(JobDetail.self, from: job.standardOutput) == Fake.detail)

            let status = try await fixture.run("--json", "status")
            #expect(try CLIFixture.decode(DaemonStatus.self, from: status.standardOutput) == Fake.status)

            let accounts = try await fixture.run("accounts", "--json")
            #expect(try CLIFixture.decode(AccountList.self, from: accounts.standardOutput).accounts
                    == [Fake.account, Fake.closedAccount])

            let ledger = try await fixture.run("--json", "ledger", "--account", "hospital-a")
            #expect(
                try CLIFixture.decode(LedgerReport.self, from: ledger.standardOutput)
                    == LedgerReport(account: Fake.account, charges: [Fake.charge]))
        }
    }

    @Test func jsonIsOneLineWithSortedKeys() async throws {
        try await CLIFixture.with { fixture in
            let output = try await fixture.run("--json", "accounts").standardOutput
            #expect(CLIFixture.lines(output).count == 1)
            #expect(output.hasPrefix(#"{"accounts":[{"delta":1e-05,"epsilon_cap":10,"epsilon_remaining":8.5,"#))
        }
    }

    @Test func aRefusalIsOneLineOnStandardErrorAndStatusOne() async throws {
        try await CLIFixture.with { fixture in
            let result = try await fixture.run("job", "job-404")
            #expect(result.status == 1)
            #expect(result.standardOutput.isEmpty)
            #expect(result.standardError == "dptunectl: job job-404: no job job-404 (not_found)\n")

            let ledger = try await fixture.run("ledger", "--account", "nobody")
            #expect(ledger.status == 1)
            #expect(ledger.standardError == "dptunectl: ledger of account nobody: no account nobody (not_found)\n")
        }
    }

    @Test(arguments: [["job"], ["frobnicate"], ["jobs", "--bogus"], ["submit"]])
    func usageErrorsExitTwo(arguments: [String]) async throws {
        let result = try await CLIFixture.run(["--socket", "/tmp/unused.sock"] + arguments)
        #expect(result.status == 2)
        #expect(result.standardOutput.isEmpty)
        #expect(!result.standardError.isEmpty)
    }

    @Test func noDaemonExitsThreeWithAHintNamingTheSocket() async throws {
        let directory = try TemporaryDirectory(prefix: "dptunectl")
        let socket = directory.url.appendingPathComponent("control.sock").path
        let result = try await CLIFixture.run(["--socket", socket, "status"])
        #expect(result.status == 3)
        #expect(result.standardOutput.isEmpty)
        let lines = CLIFixture.lines(result.standardError)
        #expect(lines.count == 1)
        let line = try #require(lines.first)
        #expect(line.hasPrefix("dptunectl: dptuned is not running: nothing listens on \(socket);"))
        #expect(line.contains("systemctl start dptuned"))
        #expect(line.contains("dptuned --config"))
    }
}
