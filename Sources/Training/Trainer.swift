// SPDX-License-Identifier: Apache-2.0
@_spi(Trainer) import AdapterKit
import Foundation
import Linalg
import Privacy
import Records
import Tokenizers
import Transformer

/// What the trainer reports after each step.
public struct TrainingProgress: Sendable, Hashable {
    public let step: Int
    public let steps: Int
    /// The mean loss of the step's batch (computed on private data, shown to operators only).
    public let loss: Double
    /// An upper bound on ε spent so far at the job's δ, exact at the plan's last step
    /// (``Trainer/epsilonSpent``).
    public let epsilonSpent: Double
}

/// The settings of one run that are not part of the privacy plan.
public struct TrainingSettings: Sendable, Hashable {
    public var learningRate: Float
    public var clip: Double
    /// Public seed: initialization and the held-out split.
    public var seed: UInt64
    /// At most this many sequences go through the backbone at once; a Poisson batch above
    /// it runs in several chunks into the same per-sample rows.
    public var chunkSize: Int
    /// The chunk size when none is given.
    public static let defaultChunkSize = 32
    /// Not private: derive sampling and noise from this seed. Tests only.
    public var insecureReproducibleSeed: UInt64?
    /// No clipping and no noise: the mean gradient of each batch, ε = ∞. For the
    /// non-private reference runs of tests and benchmarks; no manifest can ask for it.
    public var nonPrivate: Bool
    /// What neighbouring datasets differ by (the manifest's `privacy.unit`): under `unit`
    /// one unit's gradient may reach every task's segments (``NoiseTarget/reaches``).
    public var privacyUnit: Manifest.PrivacyUnit
    /// The length records were truncated to (the manifest's `max_len`, public). A
    /// forward-perturbation adapter needs it: its releases are padded to this length, so
    /// that their shape does not tell a record's length.
    public var maxLength: Int?

    public init(learningRate: Float, clip: Double, seed: UInt64, chunkSize: Int = defaultChunkSize,
                insecureReproducibleSeed: UInt64? = nil, nonPrivate: Bool = false, privacyUnit: Manifest.PrivacyUnit = .record,
                maxLength: Int? = nil) {
        self.learningRate = learningRate
        self.clip = clip
        self.seed = seed
        self.chunkSize = chunkSize
        self.insecureReproducibleSeed = insecureReproducibleSeed
        self.nonPrivate = nonPrivate
        self.privacyUnit = privacyUnit
        self.maxLength = maxLength
    }
}

/// DP-SGD on a frozen backbone with one adapter and an objective: a classification head
/// (`classify`) or the response tokens' cross entropy (`generate`) (DESIGN §4.3).
///
/// Each step draws a Poisson batch of privacy units with the secret generator, runs their
/// records forward and backward (hooks and head write per-sample gradients), asks the
/// adapter for a noise allocation, checks that allocation against the plan's σ, and
/// releases the privatized gradient to AdamW. The accountant sees the σ_eff of every step.
/// Strategies that privatize in the forward pass (DP-Forward) instead release each
/// record's representation once and train the head on those releases.
///
/// - Important: not thread-safe; one job owns it.
public final class Trainer {
    public let parameters = TrainableParameters()
    public let plan: TrainingPlan
    public let settings: TrainingSettings
    let adapter: any Adapter
    let objective: any TrainingObjective
    let privatizer: GradientPrivatizer
    private let examples: [TrainingExample]
    /// Record indices of each training unit.
    private let unitMembers: [[Int]]
    /// Each unit's longest record in tokens: a batch runs shortest units first.
    private let unitLengths: [Int]
    /// Objectives over replicas of the backbone, one per further configured thread, with
    /// the adapter attached to each; made on the first step that can use them.
    private(set) var replicas: [any TrainingObjective] = []
    /// Set when the backbone cannot be replicated or a replica failed to open: steps then
    /// run their chunks in turn, which only costs time.
    private var replicasUnavailable = false
    private var optimizer: AdamW
    private var sampling: any RandomNumberGenerator
    private(set) var statistics: PrivatizedStatistics?
    /// σ_eff of each step taken, run-length encoded: what the accountant is handed.
    public private(set) var noiseHistory: [(noiseMultiplier: Double, steps: Int)] = []
    /// The last progress price (``epsilonSpent``): the σ_eff and step count it priced, and ε.
    private var progressPrice: (noiseMultiplier: Double, steps: Int, epsilon: Double)?
    public private(set) var step = 0
    /// Each step's loss and ε, and the held-out evaluations, for the published report.
    public private(set) var history = TrainingHistory()

    /// A `classify` job: one head per task over its declared labels.
    ///
    /// - Parameters:
    ///   - examples: the training split; each example's `unit` indexes the plan's population.
    ///   - labelPrior: where the heads start; random (the public seed) when nil.
    /// - Throws: ``TrainingError`` `.invalidConfiguration` for a forward-perturbation adapter
    ///   without `settings.maxLength` or with an example longer than it.
    public convenience init(backbone: any Backbone, adapter: any Adapter, labels: [String: [String]], examples: [TrainingExample],
                            plan: TrainingPlan, settings: TrainingSettings, labelPrior: LabelPrior? = nil) throws {
        var releaseLength: Int?
        if case .forwardPerturbation = adapter.mechanism {
            guard let maxLength = settings.maxLength else {
                throw TrainingError(.invalidConfiguration, "a forward-perturbation adapter releases sequences padded to the public max_len; the settings give none")
            }
            if let longest = examples.map(\.ids.count).max(), longest > maxLength {
                throw TrainingError(.invalidConfiguration, "an example of \(longest) tokens exceeds max_len \(maxLength), which a forward-perturbation release is padded to")
            }
            releaseLength = maxLength
        }
        let objective = ClassificationObjective(backbone: backbone, tasks: labels.keys.sorted(), labels: labels,
                                                releaseLength: releaseLength)
        try self.init(objective: objective, adapter: adapter, examples: examples, plan: plan, settings: settings)
        if let labelPrior { try objective.start(from: labelPrior, parameters: parameters) }
    }

    /// A `generate` job: the response tokens' cross entropy, no head (the adapter alone trains).
    ///
    /// - Parameters:
    ///   - tasks: the job's sorted task names, which the examples' `task` indexes
    ///   - maxNewTokens: the length limit of the greedy responses that evaluation scores (32 if nil)
    /// - Throws: ``TrainingError`` `.invalidConfiguration` for an adapter that privatizes in
    ///   the forward pass (its released features feed a classification head), or a tokenizer
    ///   without `<|im_end|>`.
    public convenience init(languageModel: LlamaModel, tokenizer: ByteLevelBPETokenizer, tasks: [String], adapter: any Adapter,
                            examples: [TrainingExample], plan: TrainingPlan, settings: TrainingSettings,
                            maxNewTokens: Int? = nil) throws {
        try self.init(objective: GenerationObjective(model: languageModel, tokenizer: tokenizer, tasks: tasks,
                                                     maxNewTokens: maxNewTokens ?? GenerationObjective.defaultMaxNewTokens),
                      adapter: adapter, examples: examples, plan: plan, settings: settings)
    }

    init(objective: any TrainingObjective, adapter: any Adapter, examples: [TrainingExample],
         plan: TrainingPlan, settings: TrainingSettings) throws {
        if case .forwardPerturbation = adapter.mechanism {
            guard objective is ClassificationObjective else {
                throw TrainingError(.invalidConfiguration,
                                    "a forward-perturbation strategy (dp-forward) releases pooled representations for a classification head; objective generate has no such head and would train on unreleased hidden states, refusing")
            }
            if let refusal = settings.privacyUnit.refusal(strategy: nil, mechanism: .forwardPerturbation) {
                throw TrainingError(.invalidConfiguration, refusal)
            }
        }
        self.plan = plan
        self.settings = settings
        self.adapter = adapter
        self.examples = examples
        self.objective = objective
        var members = [[Int]](repeating: [], count: plan.populationSize)
        for (index, example) in examples.enumerated() {
            guard members.indices.contains(example.unit) else {
                throw TrainingError(.invalidConfiguration,
                                    "example \(index) names unit \(example.unit) outside the plan's \(plan.populationSize) units")
            }
            members[example.unit].append(index)
        }
        unitMembers = members
        unitLengths = members.map { records in records.map { examples[$0].ids.count }.max() ?? 0 }
        adapter.declareParameters(in: parameters)
        objective.declareParameters(in: parameters)
        var initialization = SeededGenerator(seed: settings.seed)
        parameters.seal(generator: &initialization)
        adapter.attach(to: objective.backbone, parameters: parameters)
        optimizer = AdamW(parameterCount: parameters.count, learningRate: settings.learningRate)
        if let seed = settings.insecureReproducibleSeed {
            privatizer = GradientPrivatizer(noise: .insecureReproducible(seed: seed))
            sampling = SeededGenerator(seed: seed ^ 0x5A5A_5A5A_5A5A_5A5A)
        } else {
            privatizer = GradientPrivatizer(noise: try GaussianNoiseSource())
            sampling = SystemRandomNumberGenerator()
        }
    }

    deinit {
        adapter.detach(from: objective.backbone)
        for replica in replicas { adapter.detach(from: replica.backbone) }
    }

    /// The frozen backbone's size, for the trainable share.
    public var backboneParameterCount: Int { objective.backbone.parameterCount }

    /// Where the job's privacy comes from.
    public var adapterMechanism: PrivacyMechanism { adapter.mechanism }

    /// Runs the remaining steps; `progress` returning false stops after that step with
    /// ``TrainingError`` `.cancelled`.
    public func run(progress: (TrainingProgress) -> Bool = { _ in true }) throws {
        func recorded(_ report: TrainingProgress) throws -> Bool {
            history.steps.append(.init(step: report.step, loss: report.loss, epsilon: report.epsilonSpent))
            // A step cannot bring back a non-finite parameter: the run is over, and nothing it
            // would publish could predict.
            guard parameters.flatValues.allSatisfy(\.isFinite) else {
                throw TrainingError(.diverged, "training diverged at step \(report.step) of \(report.steps): the adapter's parameters are no longer finite (loss \(report.loss)); try a lower learning rate, and check the strategy's scale options; nothing is published, and the privacy spent on the steps taken stays charged")
            }
            return progress(report)
        }
        switch adapter.mechanism {
        case .gradientPerturbation:
            while step < plan.steps {
                let loss = try dpStep()
                guard try recorded(TrainingProgress(step: step, steps: plan.steps, loss: loss, epsilonSpent: epsilonSpent)) else {
                    throw TrainingError(.cancelled, "stopped after step \(step) of \(plan.steps)")
                }
            }
        case .forwardPerturbation:
            try trainOnReleasedFeatures(progress: recorded)
        }
    }

    /// Saves what ``restore(from:jobID:strategy:)`` needs to continue after the last step taken.
    public func saveCheckpoint(to url: URL, jobID: String, strategy: String) throws {
        let checkpoint = TrainingCheckpoint(
            jobID: jobID, step: step, plannedSteps: plan.steps, parameterCount: parameters.count,
            noiseMultipliers: noiseHistory.map(\.noiseMultiplier), noiseSteps: noiseHistory.map(\.steps),
            strategy: strategy, history: history)
        try checkpoint.write(parameters: UnsafeBufferPointer(parameters.flatValues), optimizer: optimizer.state, to: url)
    }

    /// Continues from a checkpoint of the same job and plan: the steps it records are not
    /// taken again, and their σ_eff stay in the accounting.
    ///
    /// A checkpoint written by another build of the strategy (`strategy`, `id@version`: the
    /// plugin was replaced while the job was interrupted) is not resumed: the adapter would
    /// be trained partly by one build and published under the other's name. Nothing of a
    /// partial run is released, so the run may start over under its charge.
    ///
    /// - Returns: false when the checkpoint is of another build and nothing was restored.
    /// - Throws: ``TrainingError`` `.checkpointMismatch` for another job, plan or adapter size.
    @discardableResult
    public func restore(from url: URL, jobID: String, strategy: String) throws -> Bool {
        let (checkpoint, values, state) = try TrainingCheckpoint.read(from: url)
        guard checkpoint.jobID == jobID, checkpoint.plannedSteps == plan.steps,
              checkpoint.parameterCount == parameters.count, values.count == parameters.count,
              state.firstMoment.count == parameters.count, checkpoint.noiseMultipliers.count == checkpoint.noiseSteps.count else {
            throw TrainingError(.checkpointMismatch,
                                "\(url.path) belongs to job \(checkpoint.jobID) with \(checkpoint.parameterCount) parameters over \(checkpoint.plannedSteps) steps; this is job \(jobID) with \(parameters.count) over \(plan.steps)")
        }
        if let writer = checkpoint.strategy, writer != strategy { return false }
        _ = parameters.flatValues.update(fromContentsOf: values)
        optimizer = AdamW(restoring: state, learningRate: settings.learningRate)
        step = checkpoint.step
        noiseHistory = zip(checkpoint.noiseMultipliers, checkpoint.noiseSteps).map { ($0, $1) }
        history = checkpoint.history ?? TrainingHistory()
        progressPrice = nil
        statistics = nil
        return true
    }

    /// An upper bound on ε at the plan's δ for the steps taken so far, priced by the
    /// accountant that prices the finished run on the model card (so progress never shows
    /// more than the target of a plan that meets it), and exact at the plan's last step.
    ///
    /// Two bounds keep it cheap. An adaptive allocation gives nearly every step its own
    /// σ_eff, and pricing all of them after each step would make accounting quadratic in the
    /// run's length; so every step is priced at the smallest σ_eff taken (a step with more
    /// noise is a post-processing of one with less; equal to the exact ε while σ_eff has not
    /// changed). And one PLD price takes about 40 ms whatever the step count, 5% of a MiniLM
    /// step; so the steps are priced at the next of ``progressPricePoints`` equally spaced
    /// counts up to the plan's end (ε only grows with steps), and that price is reused until
    /// the run passes it. ``spentEvent`` keeps the exact history for the card.
    public var epsilonSpent: Double {
        if settings.nonPrivate { return .infinity }
        guard case .gradientPerturbation = adapter.mechanism,
              let smallest = noiseHistory.map(\.noiseMultiplier).min() else {
            return (try? spentEpsilon().epsilon) ?? .infinity
        }
        let taken = noiseHistory.reduce(0) { $0 + $1.steps }
        if let price = progressPrice, price.noiseMultiplier == smallest, price.steps >= taken { return price.epsilon }
        let steps = Self.progressPriceSteps(taken: taken, planned: plan.steps)
        let event = DpEvent.poissonSampled(probability: plan.samplingRate, event: .gaussian(noiseMultiplier: smallest))
        guard let epsilon = try? plan.epsilon(of: event.repeated(steps)).epsilon else { return .infinity }
        progressPrice = (smallest, steps, epsilon)
        return epsilon
    }

    /// How many times, at most, progress is priced over a planned run while its smallest σ_eff holds.
    static let progressPricePoints = 20

    /// The step count progress prices after `taken` steps: the next of
    /// ``progressPricePoints`` equally spaced counts ending at `planned`, or `taken` itself
    /// from the plan's end on.
    static func progressPriceSteps(taken: Int, planned: Int) -> Int {
        guard taken < planned else { return taken }
        let spacing = max(1, (planned + progressPricePoints - 1) / progressPricePoints)
        return min(planned, (taken + spacing - 1) / spacing * spacing)
    }

    /// One DP-SGD step; returns the batch's mean loss.
    func dpStep() throws -> Double {
        // Shortest units first, cut where padding plus per-chunk cost is least (LengthChunks),
        // so each chunk pads to about its own members' length instead of the batch's longest;
        // the clipped sum does not depend on the order, up to rounding.
        let members = PoissonSampler(population: plan.populationSize, rate: plan.samplingRate).sample(using: &sampling)
            .sorted { (unitLengths[$0], $0) < (unitLengths[$1], $1) }
        var rows: [Int] = []
        var unitOfRow: [Int] = []
        for (slot, unit) in members.enumerated() {
            for record in unitMembers[unit] {
                rows.append(record)
                unitOfRow.append(slot)
            }
        }
        parameters.reserveBatch(rows.count)
        let lossSum = runChunks(rows: rows)
        if settings.nonPrivate {
            let mean = meanSampleGradient()
            step += 1
            mean.withUnsafeBufferPointer { optimizer.update(parameters: parameters.flatValues, gradients: $0) }
            return rows.isEmpty ? 0 : lossSum / Double(rows.count)
        }
        let target = NoiseTarget(noiseMultiplier: plan.noiseMultiplier, clip: settings.clip, segments: parameters.segments,
                                 unitsSpanRecords: settings.privacyUnit == .unit)
        let allocation = adapter.noiseAllocation(target: target, previous: statistics)
        let sigmaEff = try Self.verify(allocation, against: target)
        let perRecord = unitOfRow.count == members.count && zip(unitOfRow, unitOfRow.indices).allSatisfy { $0 == $1 }
        var gradient = privatizer.privatize(parameters: parameters, unitOfRow: perRecord ? nil : unitOfRow,
                                            unitCount: members.count, allocation: allocation,
                                            expectedBatchSize: plan.samplingRate * Double(plan.populationSize))
        let segmentNorms = parameters.segments.map { segment in
            segment.range.reduce(0.0) { $0 + Double(gradient[$1]) * Double(gradient[$1]) }
        }
        step += 1
        statistics = PrivatizedStatistics(step: step, noisyGradient: gradient, segmentSquaredNorms: segmentNorms,
                                          allocation: allocation, expectedBatchSize: plan.samplingRate * Double(plan.populationSize))
        gradient.withUnsafeMutableBufferPointer { adapter.addRegularizationGradient(parameters: parameters, into: $0) }
        gradient.withUnsafeBufferPointer { optimizer.update(parameters: parameters.flatValues, gradients: $0) }
        record(noiseMultiplier: sigmaEff)
        return rows.isEmpty ? 0 : lossSum / Double(rows.count)
    }

    /// Forward and backward over the batch's `rows` in ``LengthChunks``, filling their
    /// per-sample gradient rows; returns the sum of their losses.
    ///
    /// With more than one configured thread every chunk runs as one piece per core, each on
    /// its own replica of the backbone (``ReplicableBackbone``) with every kernel on one
    /// thread: the pieces of a chunk cost about the same, so the cores finish together,
    /// where splitting every product over the cores leaves them waiting on each other
    /// between kernels. Each piece writes only its own samples' rows.
    ///
    /// The result is the same bits on every run with the same thread count, and on the
    /// AVX-512 kernel at every thread count. On OpenBLAS it differs between thread counts by
    /// rounding: OpenBLAS rounds a row of a product differently depending on how many rows
    /// the product has, and a piece has fewer than its chunk.
    private func runChunks(rows: [Int]) -> Double {
        let examples = self.examples
        let lengths = rows.map { examples[$0].ids.count }
        // The lanes share only what a step reads (parameter values, examples) and the
        // per-sample rows, where each piece writes its own samples (`chunkOffset` is per thread).
        nonisolated(unsafe) let lanes = self.lanes(rows: rows.count), parameters = self.parameters
        let pieces = LengthChunks(maxCount: settings.chunkSize).pieces(lengths: lengths, parts: lanes.count)
        var losses = [Float](repeating: 0, count: rows.count)
        losses.withUnsafeMutableBufferPointer { losses in
            nonisolated(unsafe) let losses = losses
            concurrentItems(pieces.count, maximumWorkers: lanes.count) { lane, item in
                let piece = pieces[item]
                parameters.chunkOffset = piece.lowerBound
                let pieceLosses = lanes[lane].lossAndBackward(rows[piece].map { examples[$0] }[...], parameters: parameters)
                for (row, loss) in zip(piece, pieceLosses) { losses[row] = loss }
            }
        }
        return losses.reduce(0) { $0 + Double($1) }
    }

    /// The objectives that run a step over `rows` samples: the trainer's own and, for each
    /// further configured thread a sample can use, a replica (made once, then kept).
    private func lanes(rows: Int) -> [any TrainingObjective] {
        let wanted = min(BLAS.threadCount, rows) - 1
        while replicas.count < wanted, !replicasUnavailable {
            guard let replica = try? objective.replica() else {
                replicasUnavailable = true
                break
            }
            adapter.attach(to: replica.backbone, parameters: parameters)
            replicas.append(replica)
        }
        return [objective] + replicas.prefix(max(wanted, 0))
    }

    /// The plain mean of the batch's per-sample rows: the update when nothing is privatized
    /// here (the non-private reference, training on already released representations).
    private func meanSampleGradient() -> [Float] {
        var mean = [Float](repeating: 0, count: parameters.count)
        let rows = parameters.batch
        guard let base = parameters.flatSampleGradients.baseAddress, rows > 0 else { return mean }
        let weights = [Float](repeating: 1 / Float(rows), count: rows)
        mean.withUnsafeMutableBufferPointer { out in
            Reductions.weightedColumnSums(out: out.baseAddress!, base, weights: weights, N: rows, K: parameters.count,
                                          columns: 0..<parameters.count)
        }
        return mean
    }

    /// The σ_eff that prices a step: the smallest over the target's reaches, after checking
    /// the allocation spends no more than planned (group-wise clips within C, every
    /// unit's σ_eff ≥ σ). See ``NoiseTarget/reaches`` for what a unit reaches.
    static func verify(_ allocation: NoiseAllocation, against target: NoiseTarget) throws(TrainingError) -> Double {
        let tolerance = 1e-9
        guard allocation.standardDeviations.count == target.segments.count else {
            throw TrainingError(.allocationRefused, "the allocation covers \(allocation.standardDeviations.count) segments, the job has \(target.segments.count)")
        }
        switch allocation.clipping {
        case .groupWise(let clips):
            let total = clips.reduce(0) { $0 + $1 * $1 }
            guard total <= target.clip * target.clip * (1 + tolerance) else {
                throw TrainingError(.allocationRefused, "group-wise clips have Σ C_g² = \(total) > C² = \(target.clip * target.clip)")
            }
        case .joint(let clip):
            // σ_eff would still be priced right, but the card states C as the bound on
            // every clipped per-sample norm.
            guard clip <= target.clip * (1 + tolerance) else {
                throw TrainingError(.allocationRefused, "the joint clip \(clip) is above the job's C = \(target.clip)")
            }
        }
        var smallest = Double.infinity
        for (reach, sigma) in zip(target.reaches, target.effectiveNoiseMultipliers(of: allocation)) {
            guard sigma >= target.noiseMultiplier * (1 - tolerance) else {
                let whose = reach.task.map { "task \($0)'s records" } ?? "every unit"
                throw TrainingError(.allocationRefused, "σ_eff \(sigma) for \(whose) is below the planned σ \(target.noiseMultiplier)")
            }
            smallest = min(smallest, sigma)
        }
        return smallest
    }

    private func record(noiseMultiplier sigma: Double) {
        if let last = noiseHistory.last, last.noiseMultiplier == sigma {
            noiseHistory[noiseHistory.count - 1].steps += 1
        } else {
            noiseHistory.append((sigma, 1))
        }
    }

    /// The event this run's releases add up to (what the model card prices).
    public var spentEvent: DpEvent {
        if settings.nonPrivate { return .nonPrivate }
        switch adapter.mechanism {
        case .gradientPerturbation:
            let parts = noiseHistory.map {
                DpEvent.poissonSampled(probability: plan.samplingRate, event: .gaussian(noiseMultiplier: $0.noiseMultiplier))
                    .repeated($0.steps)
            }
            return parts.count == 1 ? parts[0] : .composed(parts)
        case .forwardPerturbation(let featureEvent, let labelEpsilon):
            return ForwardPerturbationBudget.event(featureEvent: featureEvent, labelEpsilon: labelEpsilon, labelCounts: labelCounts)
        }
    }

    /// ε of ``spentEvent`` at the plan's δ and what priced it, the model card's guarantee: the
    /// plan's accountant, or for forward perturbation basic composition where that states
    /// less. Both bound the same release; the budget was split by basic composition, and RDP
    /// composing the two as one event stated 8.43 for a target of 8, above what the progress
    /// lines and the job record said.
    public func spentEpsilon() throws -> (epsilon: Double, accountant: String) {
        let priced = try plan.epsilon(of: spentEvent)
        guard !settings.nonPrivate, case .forwardPerturbation(let featureEvent, let labelEpsilon) = adapter.mechanism,
              let basic = ForwardPerturbationBudget.basicCompositionEpsilon(
                featureEvent: featureEvent, labelEpsilon: labelEpsilon, labelCounts: labelCounts, delta: plan.delta),
              basic < priced.epsilon else {
            return (priced.epsilon, priced.accountant.rawValue)
        }
        return (basic, Self.basicCompositionAccountant)
    }

    /// The card's accountant when ``spentEpsilon()`` took basic composition.
    public static let basicCompositionAccountant = "basic_composition"

    /// Labels per task of a classification job (the randomized response's choices).
    private var labelCounts: [Int] { (objective as? ClassificationObjective)?.head.labelCounts ?? [] }

    /// DP-Forward: each record's representation is released once (the adapter's hooks clip
    /// and noise it), its label once by randomized response; the head then trains on those
    /// releases for the planned epochs without further privacy cost.
    private func trainOnReleasedFeatures(progress: (TrainingProgress) throws -> Bool) throws {
        guard case .forwardPerturbation(_, let labelEpsilon) = adapter.mechanism,
              let objective = objective as? ClassificationObjective else { return }
        adapter.setTraining(true)
        let C = objective.backbone.hiddenSize
        let replicas = lanes(rows: examples.count).dropFirst().compactMap { $0 as? ClassificationObjective }
        let features = objective.pooledFeatures(ofAll: examples, chunkSize: settings.chunkSize, replicas: replicas)
        let noisyLabels = try examples.map { example in
            try RandomizedResponse.draw(label: example.label ?? 0, labelCount: objective.head.labelCounts[example.task],
                                        epsilon: labelEpsilon, using: &sampling)
        }
        let batchSize = max(1, Int((plan.samplingRate * Double(plan.populationSize)).rounded()))
        var order = Array(examples.indices)
        var shuffler = SeededGenerator(seed: settings.seed)
        let stepsPerEpoch = max(1, (examples.count + batchSize - 1) / batchSize)
        let total = plan.steps
        let spent = epsilonSpent
        var pooledGradient = [Float](repeating: 0, count: batchSize * C)
        while step < total {
            if step % stepsPerEpoch == 0 { order.shuffle(using: &shuffler) }
            let start = (step % stepsPerEpoch) * batchSize
            let batch = Array(order[start..<min(start + batchSize, order.count)])
            parameters.reserveBatch(batch.count)
            let pooled = batch.flatMap { features[($0 * C)..<($0 * C + C)] }
            let losses = pooled.withUnsafeBufferPointer { h in
                pooledGradient.withUnsafeMutableBufferPointer { dh in
                    objective.head.loss(pooled: h.baseAddress!, tasks: batch.map { examples[$0].task },
                                        labels: batch.map { noisyLabels[$0] }, parameters: parameters,
                                        pooledGradient: dh.baseAddress!)
                }
            }
            let gradient = meanSampleGradient()
            gradient.withUnsafeBufferPointer { optimizer.update(parameters: parameters.flatValues, gradients: $0) }
            step += 1
            let loss = losses.reduce(0) { $0 + Double($1) } / Double(max(1, losses.count))
            guard try progress(TrainingProgress(step: step, steps: total, loss: loss, epsilonSpent: spent)) else {
                throw TrainingError(.cancelled, "stopped after step \(step) of \(total)")
            }
        }
    }

    /// Accuracy per task on `examples` (labels or responses as given), with the adapter in
    /// inference mode: label accuracy for `classify`, exact match of the normalized greedy
    /// response for `generate`.
    public func evaluate(_ examples: [TrainingExample]) -> [String: Double] {
        adapter.setTraining(false)
        defer { adapter.setTraining(true) }
        let replicas = objective.scoresOnReplicas ? Array(lanes(rows: examples.count).dropFirst()) : []
        return objective.accuracy(examples, parameters: parameters, chunkSize: settings.chunkSize, replicas: replicas)
    }

    /// ``evaluate(_:)`` at the current step, kept in ``history``.
    @discardableResult
    public func recordEvaluation(_ examples: [TrainingExample]) -> [String: Double] {
        let accuracy = evaluate(examples)
        history.evaluations.append(.init(step: step, accuracy: accuracy))
        return accuracy
    }
}

/// One example's predicted label index and its task's label probabilities.
public struct Prediction: Sendable, Hashable {
    public let label: Int
    public let probabilities: [Float]
}
