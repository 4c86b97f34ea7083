// SPDX-License-Identifier: Apache-2.0
import Control
import Testing

@testable import dptunectl

@Suite struct ProgressLineTests {
    let event = ProgressEvent(
        jobID: "job-1", state: .running, step: 25, totalSteps: 100, loss: 0.6931, epsilonSpent: 1.5,
        examplesPerSecond: 120.4)

    @Test func barFillsTheTerminalWidthLessOneAndShowsEveryFigure() throws {
        let line = ProgressLine.bar(event, epsilonTarget: 8, secondsPerStep: 3, width: 100)
        #expect(line.count == 99)
        #expect(line.hasSuffix("]  step 25/100  loss 0.6931  ε 1.50/8.00  120 ex/s  ETA 3m45s"))
        let bar = try #require(line.split(separator: "]").first).dropFirst()
        #expect(bar.count(where: { $0 == "#" }) == bar.count / 4)
        #expect(bar.allSatisfy { $0 == "#" || $0 == "." })
    }

    @Test func barIsFullWhenTheJobEnds() throws {
        var done = event
        done.step = 100
        let line = ProgressLine.bar(done, epsilonTarget: 8, secondsPerStep: 3, width: 80)
        let bar = try #require(line.split(separator: "]").first).dropFirst()
        #expect(!bar.isEmpty && bar.allSatisfy { $0 == "#" })
        #expect(line.hasSuffix("ETA 0s"))
    }

    @Test func narrowTerminalDropsTheBarButNeverWraps() {
        let line = ProgressLine.bar(event, epsilonTarget: 8, secondsPerStep: nil, width: 30)
        #expect(line.count == 29)
        #expect(line.hasPrefix("step 25/100"))
    }

    @Test func etaIsADashBeforeThePaceIsKnownAndLossBeforeTheFirstStep() {
        let first = ProgressEvent(
            jobID: "job-1", state: .queued, step: 0, totalSteps: 10, epsilonSpent: 0, examplesPerSecond: 0)
        let line = ProgressLine.bar(first, epsilonTarget: .infinity, secondsPerStep: nil, width: 80)
        #expect(line.hasSuffix("step 0/10  loss -  ε 0.00/∞  0.0 ex/s  ETA -"))
        #expect(line.count == 79)
        #expect(!line.contains("#"))
    }

    @Test func plainLineNamesTheJobAndState() {
        #expect(
            ProgressLine.plain(event, epsilonTarget: 8)
                == "job-1 running  step 25/100  loss 0.6931  ε 1.50/8.00  120 ex/s")
    }
}
