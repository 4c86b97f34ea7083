// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Transformer

/// What the trainer minimizes and how it scores a held-out split; everything else in a step
/// (sampling, clipping, noise, accounting) is the trainer's and the same for every objective.
///
/// - Important: not thread-safe; it drives its backbone, which one job owns.
protocol TrainingObjective: AnyObject {
    var backbone: any Backbone { get }

    /// Declares the objective's own trainable parameters (a head), after the adapter's.
    func declareParameters(in parameters: TrainableParameters)

    /// Forward, each example's loss, and backward: every hook (and head) adds each example's
    /// own gradient to its row of `parameters` (from row `chunkOffset`), so clipping sees
    /// per-example gradients.
    ///
    /// - Returns: `(B)` losses, one per example.
    func lossAndBackward(_ examples: ArraySlice<TrainingExample>, parameters: TrainableParameters) -> [Float]

    /// Whether ``accuracy(_:parameters:chunkSize:replicas:)`` scores pieces on replicas, so
    /// that the trainer makes them for an evaluation only when they will be used.
    var scoresOnReplicas: Bool { get }

    /// The share of `examples` each task gets right, with the adapter already in inference mode.
    ///
    /// `replicas` are this objective's ``replica()``s, with the adapter attached, when
    /// ``scoresOnReplicas``: the objective scores pieces of the examples on them at once.
    func accuracy(_ examples: [TrainingExample], parameters: TrainableParameters, chunkSize: Int,
                  replicas: [any TrainingObjective]) -> [String: Double]
    /// The same objective, over the same declared parameters, on a replica of the backbone
    /// (``ReplicableBackbone``), so that another core can run chunks of the same step; nil
    /// when the backbone cannot be replicated.
    func replica() throws -> (any TrainingObjective)?
}

extension TrainingObjective {
    /// Per-task share of `hits` that are true; `tasks` indexes each example's task.
    static func tally(tasks: [String], examples: [TrainingExample], hits: [Bool]) -> [String: Double] {
        var tally: [String: (correct: Int, seen: Int)] = [:]
        for (example, hit) in zip(examples, hits) {
            let previous = tally[tasks[example.task]] ?? (0, 0)
            tally[tasks[example.task]] = (previous.correct + (hit ? 1 : 0), previous.seen + 1)
        }
        return tally.mapValues { Double($0.correct) / Double($0.seen) }
    }
}
