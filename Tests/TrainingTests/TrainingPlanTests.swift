// SPDX-License-Identifier: Apache-2.0
import Privacy
import Records
import Testing
import Training

@Suite struct TrainingPlanTests {
    @Test(arguments: [Manifest.Accountant.rdp, .prv])
    func eventMeetsTargetWithinTolerance(accountant: Manifest.Accountant) throws {
        let plan = try TrainingPlan(
            populationSize: 1_000, expectedBatch: 100, epochs: 2, epsilon: 3, delta: 1e-5, accountant: accountant)
        var priced = TrainingPlan.accountantFactory(accountant)(.addOrRemoveOne)
        try priced.compose(plan.event)
        let epsilon = try priced.epsilon(delta: 1e-5)
        #expect(epsilon <= 3)
        // σ is at most `calibrationTolerance` (relative) above the threshold: a little less
        // noise must overshoot the target.
        var lessNoise = TrainingPlan.accountantFactory(accountant)(.addOrRemoveOne)
        let shaved = plan.noiseMultiplier * (1 - 2 * TrainingPlan.calibrationTolerance)
        try lessNoise.compose(
            DpEvent.poissonSampled(probability: plan.samplingRate, event: .gaussian(noiseMultiplier: shaved))
                .repeated(plan.steps))
        #expect(try lessNoise.epsilon(delta: 1e-5) > 3)
        #expect(epsilon > 3 * 0.99)
    }

    @Test func stepsAndRateAreExact() throws {
        let plan = try TrainingPlan(
            populationSize: 1_000, expectedBatch: 64, epochs: 3, epsilon: 8, delta: 1e-5, accountant: .rdp)
        #expect(plan.samplingRate == 0.064)
        #expect(plan.steps == 47)  // ⌈3 · 1000 / 64⌉ = ⌈46.875⌉
        let even = try TrainingPlan(
            populationSize: 640, expectedBatch: 64, epochs: 3, epsilon: 8, delta: 1e-5, accountant: .rdp)
        #expect(even.steps == 30)
        let capped = try TrainingPlan(
            populationSize: 50, expectedBatch: 64, epochs: 2, epsilon: 8, delta: 1e-3, accountant: .rdp)
        #expect(capped.samplingRate == 1)
        #expect(capped.steps == 2)
        #expect(plan.event == DpEvent.poissonSampled(
            probability: 0.064, event: .gaussian(noiseMultiplier: plan.noiseMultiplier)).repeated(47))
    }

    @Test func deltaMustStayBelowOneOverN() throws {
        #expect(throws: TrainingPlanError(.deltaTooLarge, "")) {
            try TrainingPlan(populationSize: 100_000, expectedBatch: 64, epochs: 1, epsilon: 8, delta: 1e-5, accountant: .rdp)
        }
        #expect(throws: TrainingPlanError(.deltaTooLarge, "")) {
            try TrainingPlan(populationSize: 200_000, expectedBatch: 64, epochs: 1, epsilon: 8, delta: 1e-5, accountant: .rdp)
        }
        _ = try TrainingPlan(populationSize: 99_999, expectedBatch: 64, epochs: 1, epsilon: 8, delta: 1e-5, accountant: .rdp)
    }

    @Test func anEpochCountWhoseSamplesOverflowIsRefused() {
        do {
            _ = try TrainingPlan(
                populationSize: 10, expectedBatch: 10, epochs: Int.max / 4, epsilon: 8, delta: 1e-3, accountant: .rdp)
            Issue.record("planned \(Int.max / 4) epochs")
        } catch {
            #expect(error.code == .invalidParameters)
            #expect(error.message.contains("epochs \(Int.max / 4) over N = 10"))
        }
    }

    /// An expected batch of at least N samples everyone each step (q = 1), so each step is one
    /// pass: 3 epochs are 3 steps. ⌈epochs·N/B⌉ gave 2, while the card said 3 epochs.
    @Test func aBatchOfEveryoneTakesOneStepPerEpoch() throws {
        let plan = try TrainingPlan(populationSize: 36, expectedBatch: 64, epochs: 3, epsilon: 8, delta: 1e-5, accountant: .rdp)
        #expect(plan.samplingRate == 1)
        #expect(plan.steps == 3)
        let exact = try TrainingPlan(populationSize: 64, expectedBatch: 64, epochs: 3, epsilon: 8, delta: 1e-5, accountant: .rdp)
        #expect(exact.steps == 3)
    }

    /// More steps than ``TrainingPlan/maximumSteps`` are refused before any accountant runs;
    /// the bound itself is planned.
    @Test(arguments: [Manifest.Accountant.rdp, .prv])
    func aStepCountOverTheLimitIsRefused(accountant: Manifest.Accountant) throws {
        for epochs in [1_000_000_000_000_000, TrainingPlan.maximumSteps + 1] {
            let error = try #require(throws: TrainingPlanError.self) {
                try TrainingPlan(populationSize: 10, expectedBatch: 10, epochs: epochs, epsilon: 8, delta: 1e-3,
                                 accountant: accountant)
            }
            #expect(error.code == .invalidParameters)
            #expect(error.message.contains("\(epochs) steps, more than the \(TrainingPlan.maximumSteps) a job may take"), "\(error.message)")
        }
        let plan = try TrainingPlan(populationSize: 10, expectedBatch: 10, epochs: TrainingPlan.maximumSteps, epsilon: 8,
                                    delta: 1e-3, accountant: .rdp)
        #expect(plan.steps == TrainingPlan.maximumSteps)
    }

    /// The refusal of the fuzzed dp-forward manifest (10^10 epochs of 36 records under PLD)
    /// names the steps the run would take as a bound on its length, since a strategy that
    /// releases its data once trains its head for those steps without noise.
    @Test(arguments: [Manifest.Accountant.rdp, .prv])
    func theStepLimitSpeaksOfTheRunsLengthForEveryStrategy(accountant: Manifest.Accountant) throws {
        let error = try #require(throws: TrainingPlanError.self) {
            try TrainingPlan(populationSize: 36, expectedBatch: 8, epochs: 10_000_000_000, epsilon: 2, delta: 1e-5,
                             accountant: accountant)
        }
        #expect(error.message.contains("would train for 45000000000 steps"), "\(error.message)")
        #expect(error.message.contains("a job may take whatever its strategy (a bound on the run's length, not on its privacy)"),
                "\(error.message)")
        #expect(!error.message.contains("DP-SGD") && !error.message.contains("noise"), "\(error.message)")
    }

    /// A manifest may ask for any finite ε. With PLD the search then runs towards the least
    /// noise the accountant can price; it used to build loss grids of up to 2^25 points on the
    /// way (4.6 s and 600 MB at q = 0.01, T = 1000, before a refusal). Now the plan arrives
    /// well within a second with the least noise priced within a factor 2, which meets ε.
    @Test(arguments: [(10_000, 100, 10), (1_000, 1_000, 1), (2_700, 2_700, 2_700)])
    func aHostileEpsilonIsPlannedPromptly(populationSize: Int, expectedBatch: Int, epochs: Int) throws {
        let clock = ContinuousClock()
        let started = clock.now
        let plan = try TrainingPlan(
            populationSize: populationSize, expectedBatch: expectedBatch, epochs: epochs, epsilon: 1e308,
            delta: 1e-5, accountant: .prv)
        let elapsed = clock.now - started
        // About 0.25 s here; the bound leaves room for a loaded machine.
        #expect(elapsed < .seconds(2), "planned in \(elapsed)")
        var priced = TrainingPlan.accountantFactory(.prv)(.addOrRemoveOne)
        try priced.compose(plan.event)
        let epsilon = try priced.epsilon(delta: 1e-5)
        #expect(epsilon.isFinite && epsilon <= 1e308, "σ = \(plan.noiseMultiplier): ε = \(epsilon)")
    }

    @Test func manifestPlanUsesTheTrainingSplit() throws {
        var defaults = ManifestDefaults(account: "a", backbone: "b", strategy: "s", objective: .generate)
        defaults.privacy = Manifest.Privacy(epsilon: 4, delta: 1e-4, unit: .record, accountant: .rdp)
        defaults.train = Manifest.Train(epochs: 1, expectedBatch: 10, lr: 1e-3, maxLen: 8, clip: 1, seed: 3)
        let manifest = try Manifest(defaults: defaults)
        let summary = DatasetSummary(
            sha256: "", byteCount: 0, recordCount: 200, unitCount: 0, taskCounts: [:], privacyUnitCount: 200)
        let plan = try TrainingPlan(manifest: manifest, dataset: summary, heldOutFraction: 0.1)
        #expect(plan.populationSize == HeldOutSplit(memberCount: 200, heldOutFraction: 0.1, seed: 3).training.count)
        #expect(plan.populationSize == 180)
        #expect(plan.steps == 18)
        #expect(plan.samplingRate == 10.0 / 180.0)
    }

    @Test(arguments: [0.0, -1, .infinity, .nan])
    func unreachableEpsilonIsRefused(epsilon: Double) {
        do {
            _ = try TrainingPlan(populationSize: 10, expectedBatch: 10, epochs: 1, epsilon: epsilon, delta: 1e-3, accountant: .rdp)
            Issue.record("planned epsilon \(epsilon)")
        } catch {
            #expect(error.code == .unreachableEpsilon)
            #expect(error.message.contains("epsilon \(epsilon)"))
        }
    }
}
