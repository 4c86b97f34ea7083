// SPDX-License-Identifier: Apache-2.0
import Testing
import Training
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

    @Test func chunkSizeDefaultsToTheTrainersAndRefusesZero() throws {
        #expect(try DPTuneEval.parse([]).resolvedPlan().chunkSize == TrainingSettings.defaultChunkSize)
        #expect(try DPTuneEval.parse(["--chunk-size", "64"]).resolvedPlan().chunkSize == 64)
        #expect(throws: (any Error).self) { try DPTuneEval.parse(["--chunk-size", "0"]).resolvedPlan() }
    }
}
