// SPDX-License-Identifier: Apache-2.0
import Control
import Foundation
import TestSupport
import Testing

@Suite struct WatchCommandTests {
    typealias Fake = FakeControlHandler

    static let events = [
        ProgressEvent(jobID: "job-1", state: .running, step: 10, totalSteps: 100, loss: 0.9, epsilonSpent: 0.5, examplesPerSecond: 200),
        ProgressEvent(jobID: "job-1", state: .running, step: 50, totalSteps: 100, loss: 0.7, epsilonSpent: 3.25, examplesPerSecond: 210.6),
        ProgressEvent(jobID: "job-1", state: .succeeded, step: 100, totalSteps: 100, loss: 0.5, epsilonSpent: 7.9, examplesPerSecond: 205),
    ]

    static func ended(_ state: JobState, reason: String? = nil) -> JobDetail {
        var detail = Fake.detail
        detail.summary.state = state
        detail.summary.reason = reason
        detail.step = 100
        return detail
    }

    /// The fake answers `job` with the ended job from the start; the watch asks for it first
    /// (for the ε target), so it must carry the same target.
    @Test func plainLinesPerEventThenTheFinalStateExitZeroOnSuccess() async throws {
        try await CLIFixture.with { fixture in
            fixture.handler.setWatchEvents(Self.events, for: "job-1")
            fixture.handler.setDetail(Self.ended(.succeeded))
            let result = try await fixture.run("watch", "job-1")
            #expect(result.status == 0)
            let lines = CLIFixture.lines(result.standardOutput)
            #expect(Array(lines.prefix(3)) == [
                "job-1 running  step 10/100  loss 0.9000  ε 0.50/8.00  200 ex/s",
                "job-1 running  step 50/100  loss 0.7000  ε 3.25/8.00  211 ex/s",
                "job-1 succeeded  step 100/100  loss 0.5000  ε 7.90/8.00  205 ex/s",
            ])
            #expect(lines.contains("state       succeeded"))
            #expect(!result.standardOutput.contains("\r"))
            // The CLI asks for the job, then watches; the server asks for the job once more to end the watch.
            #expect(
                fixture.handler.received.map(\.request) == [.job(id: "job-1"), .watch(id: "job-1"), .job(id: "job-1")])
        }
    }

    @Test(arguments: [JobState.failed, .cancelled])
    func aJobThatDidNotSucceedExitsOne(state: JobState) async throws {
        try await CLIFixture.with { fixture in
            fixture.handler.setWatchEvents(Array(Self.events.prefix(1)), for: "job-1")
            fixture.handler.setDetail(Self.ended(state, reason: "stopped at step 10"))
            let result = try await fixture.run("watch", "job-1")
            #expect(result.status == 1)
            let lines = CLIFixture.lines(result.standardOutput)
            #expect(lines.contains("state       \(state.rawValue)"))
            #expect(lines.contains("reason      stopped at step 10"))
            #expect(result.standardError.isEmpty)
        }
    }

    @Test func jsonIsOneObjectPerEventThenTheJob() async throws {
        try await CLIFixture.with { fixture in
            fixture.handler.setWatchEvents(Self.events, for: "job-1")
            fixture.handler.setDetail(Self.ended(.succeeded))
            let result = try await fixture.run("--json", "watch", "job-1")
            #expect(result.status == 0)
            let lines = CLIFixture.lines(result.standardOutput)
            #expect(lines.count == 4)
            #expect(try lines.prefix(3).map { try CLIFixture.decode(ProgressEvent.self, from: $0) } == Self.events)
            #expect(try CLIFixture.decode(JobDetail.self, from: lines[3]) == Self.ended(.succeeded))
        }
    }

    @Test func unknownJobExitsOne() async throws {
        try await CLIFixture.with { fixture in
            let result = try await fixture.run("watch", "job-404")
            #expect(result.status == 1)
            #expect(result.standardError == "dptunectl: watch job-404: no job job-404 (not_found)\n")
        }
    }
}
