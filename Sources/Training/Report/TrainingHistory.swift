// SPDX-License-Identifier: Apache-2.0

/// What a run measured along the way, for the report published with its adapter (DESIGN §3.5).
///
/// Kept by the trainer and saved in its checkpoints, so a resumed job reports the whole run.
public struct TrainingHistory: Codable, Sendable, Hashable {
    public struct Step: Codable, Sendable, Hashable {
        public var step: Int
        /// The mean loss of the step's batch, on private data and not privatized.
        public var loss: Double
        /// The progress bound on ε after the step (``Trainer/epsilonSpent``).
        public var epsilon: Double
    }

    public struct Evaluation: Codable, Sendable, Hashable {
        public var step: Int
        /// Held-out accuracy per task, on private data and not privatized.
        public var accuracy: [String: Double]
    }

    public var steps: [Step] = []
    public var evaluations: [Evaluation] = []

    public init() {}

    /// The most epoch ends a run evaluates at.
    public static let maximumEpochEvaluations = 16

    /// The steps after which a run evaluates on its held-out split: each quarter of the run
    /// and the end of each epoch, so that even a one-epoch job shows accuracy over steps,
    /// at about a tenth of the run's cost (the held-out split is forward passes over a tenth
    /// of the data, four or `epochs` times). Past ``maximumEpochEvaluations`` epochs only
    /// every k-th epoch's end counts, and the last: each evaluation costs a pass, and the set
    /// must stay small whatever `epochs` a manifest names (10^10 once asked for 80 GB here).
    public static func evaluationSteps(totalSteps: Int, epochs: Int) -> Set<Int> {
        guard totalSteps > 0 else { return [] }
        let quarters = (1...4).map { totalSteps * $0 / 4 }
        let epochCount = max(1, epochs)
        let every = (epochCount + maximumEpochEvaluations - 1) / maximumEpochEvaluations
        let evaluatedEpochs = Array(stride(from: every, through: epochCount, by: every)) + [epochCount]
        let epochEnds = evaluatedEpochs.map { Int((Double(totalSteps) * Double($0) / Double(epochCount)).rounded()) }
        return Set((quarters + epochEnds).filter { $0 >= 1 && $0 <= totalSteps })
    }
}
