// SPDX-License-Identifier: Apache-2.0
// Dimensions: B = batch, C = hidden width, K = the labels of one task.
import AdapterKit
import Foundation
import Linalg

/// One linear head per task over the pooled representation: `logits = W_k·h + b_k`.
///
/// A record's loss only reaches its own task's head, so under multi-task training head
/// segments carry their task and a strategy may give them their own noise (DESIGN §5.4).
/// Loss per sample is the cross entropy of that sample alone: per-sample gradients are
/// those of one record, as clipping requires.
final class ClassificationHead {
    let tasks: [String]
    let labelCounts: [Int]
    let width: Int
    private var weightSegments: [Int] = []
    private var biasSegments: [Int] = []

    init(tasks: [String], labels: [String: [String]], width: Int) {
        self.tasks = tasks
        self.labelCounts = tasks.map { labels[$0]?.count ?? 0 }
        self.width = width
    }

    func declareParameters(in parameters: TrainableParameters) {
        for (task, count) in zip(tasks, labelCounts) {
            weightSegments.append(parameters.addSegment(
                name: "head.\(task).weight", shape: [count, width], task: task,
                initialization: .normal(standardDeviation: 0.02)))
            biasSegments.append(parameters.addSegment(name: "head.\(task).bias", shape: [count], task: task))
        }
    }

    /// Sets task `task`'s weight rows `(K, C)` to `weights` and its bias to zero.
    func start(task: Int, weights: [Float], parameters: TrainableParameters) {
        parameters.values(weightSegments[task]).update(from: weights, count: labelCounts[task] * width)
        parameters.values(biasSegments[task]).update(repeating: 0, count: labelCounts[task])
    }

    /// `logits (K)` of one pooled vector under `task`'s head.
    func logits(pooled: UnsafePointer<Float>, task: Int, parameters: TrainableParameters) -> [Float] {
        let count = labelCounts[task], w = parameters.values(weightSegments[task]), b = parameters.values(biasSegments[task])
        return (0..<count).map { k in
            var sum = b[k]
            for c in 0..<width { sum += w[k * width + c] * pooled[c] }
            return sum
        }
    }

    /// Each sample's cross entropy; when `pooledGradient` is given, also `∂L_s/∂h_s` into it
    /// `(B, C)` and each sample's head gradient into its row of `parameters`.
    ///
    /// - Parameters:
    ///   - pooled: `(B, C)`
    ///   - labels: `(B)` label indices, `tasks`: `(B)` task indices
    func loss(pooled: UnsafePointer<Float>, tasks sampleTasks: [Int], labels: [Int], parameters: TrainableParameters,
              pooledGradient: UnsafeMutablePointer<Float>?) -> [Float] {
        var losses: [Float] = []
        losses.reserveCapacity(labels.count)
        for s in 0..<labels.count {
            let task = sampleTasks[s], h = pooled + s * width
            let logits = logits(pooled: h, task: task, parameters: parameters)
            let maximum = logits.max() ?? 0
            let exps = logits.map { Foundation.exp($0 - maximum) }
            let total = exps.reduce(0, +)
            losses.append(Foundation.log(total) + maximum - logits[labels[s]])
            guard let pooledGradient else { continue }
            let w = parameters.values(weightSegments[task])
            let dw = parameters.sampleGradients(weightSegments[task], sample: s)
            let db = parameters.sampleGradients(biasSegments[task], sample: s)
            let dh = pooledGradient + s * width
            dh.update(repeating: 0, count: width)
            for k in 0..<logits.count {
                let g = exps[k] / total - (k == labels[s] ? 1 : 0)
                db[k] += g
                for c in 0..<width {
                    dw[k * width + c] += g * h[c]
                    dh[c] += g * w[k * width + c]
                }
            }
        }
        return losses
    }
}
