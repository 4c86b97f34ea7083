// SPDX-License-Identifier: Apache-2.0
import Testing
@testable import dptune_eval

@Suite struct EvaluationPlanFlagsTests {
    @Test func firstSeedShiftsBothSeedLists() throws {
        let plan = try DPTuneEval.parse(["--first-seed", "3", "--seeds", "2", "--section-seeds", "2"]).resolvedPlan()
        #expect(plan.seeds == [3, 4])
        #expect(plan.sectionSeeds == [3, 4])
    }

    @Test func firstSeedKeepsThePresetsCounts() throws {
        let preset = EvaluationPlan.standard
        let plan = try DPTuneEval.parse(["--first-seed", "7"]).resolvedPlan()
        #expect(plan.seeds == (0..<UInt64(preset.seeds.count)).map { 7 + $0 })
        #expect(plan.sectionSeeds == [7])
    }

    @Test func withoutFirstSeedTheSeedsStartAtOne() throws {
        let plan = try DPTuneEval.parse(["--seeds", "3"]).resolvedPlan()
        #expect(plan.seeds == [1, 2, 3])
        #expect(plan.sectionSeeds == [1])
    }

    @Test func oneLearningRateLeavesNothingToTune() throws {
        #expect(try !DPTuneEval.parse(["--learning-rates", "0.005"]).resolvedPlan().tunes)
        #expect(try DPTuneEval.parse(["--learning-rates", "0.005,0.02"]).resolvedPlan().tunes)
    }
}
