// SPDX-License-Identifier: Apache-2.0
import Control
import Foundation
import TestSupport
import Testing

@testable import dptunectl

/// Human output, through the built binary against a live server.
@Suite struct ResultTextTests {
    typealias Fake = FakeControlHandler

    /// The column (in characters) where `text` ends in `line`.
    static func end(of text: String, in line: String) throws -> Int {
        let range = try #require(line.range(of: text), "\(text) not in \(line)")
        return line.distance(from: line.startIndex, to: range.upperBound)
    }

    static func start(of text: String, in line: String) throws -> Int {
        let range = try #require(line.range(of: text), "\(text) not in \(line)")
        return line.distance(from: line.startIndex, to: range.lowerBound)
    }

    @Test func jobsIsATableWithNumbersRightAlignedUnderTheirHeaders() async throws {
        try await CLIFixture.with { fixture in
            let result = try await fixture.run("jobs")
            #expect(result.status == 0)
            #expect(result.standardError.isEmpty)
            let lines = CLIFixture.lines(result.standardOutput)
            #expect(lines.count == 2)
            let (header, row) = (lines[0], lines[1])
            #expect(header.hasPrefix("ID     ACCOUNT     DATASET  STRATEGY    STATE    PROGRESS  ε SPENT  ε TARGET  CREATED"))
            #expect(try Self.end(of: "ε TARGET", in: header) == Self.end(of: " 8.00", in: row))
            #expect(try Self.end(of: "ε SPENT", in: header) == Self.end(of: " 1.50", in: row))
            #expect(try Self.end(of: "PROGRESS", in: header) == Self.end(of: " 25%", in: row))
            #expect(try Self.start(of: "STATE", in: header) == Self.start(of: "running", in: row))
            #expect(row.hasPrefix("job-1  hospital-a  notes    lora 1.2.0  running"))
            #expect(row.hasSuffix(DisplayFormat.date(Fake.job.createdAt)))
        }
    }

    @Test func jobShowsTheDetailAsFields() async throws {
        try await CLIFixture.with { fixture in
            let result = try await fixture.run("job", "job-1")
            #expect(result.status == 0)
            let lines = CLIFixture.lines(result.standardOutput)
            #expect(lines.contains("job         job-1"))
            #expect(lines.contains("progress    25% (step 25/100)"))
            #expect(lines.contains("epsilon     1.50 of 8.00"))
            #expect(lines.contains("delta       1e-05"))
            #expect(lines.contains("accountant  prv"))
            #expect(lines.contains("charge      charge-9"))
            #expect(lines.contains("finished    -"))
        }
    }

    @Test func statusShowsTheDaemonThenItsRunningJobs() async throws {
        try await CLIFixture.with { fixture in
            let result = try await fixture.run("status")
            #expect(result.status == 0)
            let lines = CLIFixture.lines(result.standardOutput)
            #expect(Array(lines.prefix(6)) == [
                "version  0.1.0",
                "uptime   13s",
                "queued   2",
                "running  1",
                "plugins  5",
                "ledger   /var/lib/dptune/ledger.sqlite",
            ])
            #expect(lines[6].hasPrefix("ID "))
            #expect(lines[7].hasPrefix("job-1 "))
        }
    }

    @Test func accountsShowCapSpendRemainderAndWhetherClosed() async throws {
        try await CLIFixture.with { fixture in
            let result = try await fixture.run("accounts")
            #expect(result.status == 0)
            let lines = CLIFixture.lines(result.standardOutput)
            #expect(Array(lines.prefix(2)) == [
                "ACCOUNT     ε CAP  ε SPENT  ε REMAINING      δ  JOBS  STATE",
                "hospital-a  10.00     1.50         8.50  1e-05     1  open",
            ])
            let closed = try #require(lines.count == 3 ? lines[2] : nil)
            #expect(closed.hasPrefix("pilot        1.00     0.25         0.75  1e-06     2  closed 20"), "\(closed)")
        }
    }

    @Test func ledgerOfOneAccountShowsItsBudgetAndEveryCharge() async throws {
        try await CLIFixture.with { fixture in
            let result = try await fixture.run("ledger", "--account", "hospital-a")
            #expect(result.status == 0)
            let lines = CLIFixture.lines(result.standardOutput)
            #expect(lines.count == 4)
            #expect(lines[0].hasPrefix("ACCOUNT "))
            #expect(lines[2].hasPrefix("TIME "))
            #expect(lines[3].contains("charge-9  job-1  hospital-a  sentiment  lora"))
            #expect(lines[3].hasSuffix("reserved  PoissonSampled(0.01, Gaussian(1.1)) x100  admitted"))
            #expect(try Self.end(of: "ε", in: lines[2]) == Self.end(of: "1.50", in: lines[3]))
            #expect(fixture.handler.received.map(\.request) == [.ledger(account: "hospital-a")])
        }
    }

    @Test func pluginsListCurrentAndRetiredBuilds() async throws {
        try await CLIFixture.with { fixture in
            let result = try await fixture.run("plugins")
            #expect(result.status == 0)
            let lines = CLIFixture.lines(result.standardOutput)
            #expect(lines.count == 3)
            #expect(lines[0].hasPrefix("STRATEGY  VERSION  STATE    LOADED"))
            #expect(lines[1].hasPrefix("lora      1.2.0    current"))
            #expect(lines[2].hasPrefix("lora      1.1.0    retired"))
            #expect(lines[2].hasSuffix("/var/lib/dptune/plugins/liblora-old.so  replaced by 1.2.0"))
            #expect(fixture.handler.received.map(\.request) == [.plugins])
        }
    }
}
