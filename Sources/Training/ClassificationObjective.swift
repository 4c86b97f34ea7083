// SPDX-License-Identifier: Apache-2.0
// Dimensions: B = examples in a chunk, T = the chunk's longest example, C = hidden width.
import AdapterKit
import Foundation
import Linalg
import Transformer

/// `classify`: the mean-pooled last hidden state (how all-MiniLM-L6-v2 was trained) feeds
/// one head per task; the loss is each record's cross entropy over its task's labels.
final class ClassificationObjective: TrainingObjective {
    let backbone: any Backbone
    let head: ClassificationHead
    /// Set when a forward-perturbation adapter is attached: every sequence then runs padded
    /// to this public length, every position attended and pooled. The adapter releases the
    /// whole matrix, and what follows the release (the blocks above it, the pooling, the
    /// head) must read only the release: a record's real length, in the padding mask, would
    /// reach them otherwise, and so would the shape of a matrix padded to the chunk's longest.
    let releaseLength: Int?
    let scoresOnReplicas = true
    private var pooled: [Float] = []
    private var pooledGradient: [Float] = []
    private var hiddenGradient: [Float] = []

    init(backbone: any Backbone, tasks: [String], labels: [String: [String]], releaseLength: Int? = nil) {
        self.backbone = backbone
        head = ClassificationHead(tasks: tasks, labels: labels, width: backbone.hiddenSize)
        self.releaseLength = releaseLength
    }

    private init(backbone: any Backbone, head: ClassificationHead, releaseLength: Int?) {
        self.backbone = backbone
        self.head = head
        self.releaseLength = releaseLength
    }

    /// Shares the head, whose parameters are declared once and only read during a step.
    func replica() throws -> (any TrainingObjective)? {
        guard let replicable = backbone as? any ReplicableBackbone else { return nil }
        return ClassificationObjective(backbone: try replicable.replica(), head: head, releaseLength: releaseLength)
    }

    func declareParameters(in parameters: TrainableParameters) {
        head.declareParameters(in: parameters)
    }

    func accuracy(_ examples: [TrainingExample], parameters: TrainableParameters, chunkSize: Int,
                  replicas: [any TrainingObjective]) -> [String: Double] {
        let predicted = predict(examples, parameters: parameters, chunkSize: chunkSize,
                                replicas: replicas.compactMap { $0 as? ClassificationObjective })
        return Self.tally(tasks: head.tasks, examples: examples, hits: zip(examples, predicted).map { $0.label == $1.label })
    }

    /// The pooled representations `(B, C)` of `examples`, through every attached hook.
    func pooledFeatures(_ examples: ArraySlice<TrainingExample>) -> [Float] {
        let batch = PaddedBatch(examples, releaseLength: releaseLength)
        let C = backbone.hiddenSize
        let hidden = backbone.forward(inputIDs: batch.ids, tokenTypeIDs: batch.tokenTypeIDs, attentionMask: batch.mask,
                                      batch: batch.count, seqLen: batch.length)
        var out = [Float](repeating: 0, count: batch.count * C)
        let mask = batch.mask.map(Float.init)
        out.withUnsafeMutableBufferPointer { o in
            mask.withUnsafeBufferPointer { m in
                meanPoolingForward(out: o.baseAddress!, hidden: hidden.baseAddress!, mask: m.baseAddress!,
                                   B: batch.count, T: batch.length, C: C)
            }
        }
        return out
    }

    /// Starts every task's head at ``LabelPrior``'s rows for its labels' features.
    func start(from prior: LabelPrior, parameters: TrainableParameters) throws(TrainingError) {
        let C = backbone.hiddenSize
        for task in head.tasks.indices {
            let labels = prior.examples.filter { $0.task == task }
            guard labels.map({ $0.label ?? -1 }).sorted() == Array(0..<head.labelCounts[task]) else {
                throw TrainingError(.invalidConfiguration,
                                    "the label prior needs one example per label of task \(head.tasks[task]); it has \(labels.count) for \(head.labelCounts[task]) labels")
            }
            let features = pooledFeatures(labels.sorted { ($0.label ?? 0) < ($1.label ?? 0) }[...])
            head.start(task: task, weights: LabelPrior.weights(features: features, labelCount: head.labelCounts[task],
                                                               width: C, margin: prior.margin),
                       parameters: parameters)
        }
    }

    func lossAndBackward(_ examples: ArraySlice<TrainingExample>, parameters: TrainableParameters) -> [Float] {
        let batch = PaddedBatch(examples, releaseLength: releaseLength)
        let C = backbone.hiddenSize, B = batch.count, T = batch.length
        pooled = pooledFeatures(examples)
        if pooledGradient.count < B * C { pooledGradient = [Float](repeating: 0, count: B * C) }
        let losses = pooled.withUnsafeBufferPointer { h in
            pooledGradient.withUnsafeMutableBufferPointer { dh in
                head.loss(pooled: h.baseAddress!, tasks: examples.map(\.task), labels: examples.map { $0.label ?? 0 },
                          parameters: parameters, pooledGradient: dh.baseAddress!)
            }
        }
        hiddenGradient = [Float](repeating: 0, count: B * T * C)
        let mask = batch.mask.map(Float.init)
        hiddenGradient.withUnsafeMutableBufferPointer { dhidden in
            pooledGradient.withUnsafeBufferPointer { dpooled in
                mask.withUnsafeBufferPointer { m in
                    meanPoolingBackward(dhidden: dhidden.baseAddress!, dout: dpooled.baseAddress!, mask: m.baseAddress!,
                                        B: B, T: T, C: C)
                }
            }
            backbone.backward(lastHiddenGradient: dhidden.baseAddress!)
        }
        return losses
    }

    /// Each example's predicted label, at most `chunkSize` examples per forward (see
    /// ``pooledFeatures(ofAll:chunkSize:replicas:)`` for `replicas`).
    func predict(_ examples: [TrainingExample], parameters: TrainableParameters, chunkSize: Int,
                 replicas: [ClassificationObjective] = []) -> [Prediction] {
        predictions(pooled: pooledFeatures(ofAll: examples, chunkSize: chunkSize, replicas: replicas),
                    tasks: examples.map(\.task), parameters: parameters)
    }

    /// The pooled representations `(count, C)` of any number of examples, in their order.
    ///
    /// They run shortest first in ``LengthChunks`` of at most `chunkSize`, so that a chunk
    /// pads to about its own members' length, not to the longest of records in data order.
    /// With `replicas` (objectives on replicas of this backbone, with the same hooks) each
    /// chunk runs as one piece per objective, the pieces at once, as a training step does.
    func pooledFeatures(ofAll examples: [TrainingExample], chunkSize: Int,
                        replicas: [ClassificationObjective] = []) -> [Float] {
        let C = backbone.hiddenSize
        let order = examples.indices.sorted { (examples[$0].ids.count, $0) < (examples[$1].ids.count, $1) }
        let lanes = [self] + replicas
        let pieces = LengthChunks(maxCount: chunkSize).pieces(lengths: order.map { examples[$0].ids.count }, parts: lanes.count)
        var features = [Float](repeating: 0, count: examples.count * C)
        features.withUnsafeMutableBufferPointer { features in
            // Each piece writes only its own examples' rows.
            nonisolated(unsafe) let features = features, lanes = lanes
            concurrentItems(pieces.count, maximumWorkers: lanes.count) { lane, item in
                let indices = order[pieces[item]]
                let pooled = lanes[lane].pooledFeatures(indices.map { examples[$0] }[...])
                for (slot, index) in indices.enumerated() {
                    for c in 0..<C { features[index * C + c] = pooled[slot * C + c] }
                }
            }
        }
        return features
    }

    /// Each pooled vector's predicted label and its task's label probabilities.
    func predictions(pooled: [Float], tasks: [Int], parameters: TrainableParameters) -> [Prediction] {
        let C = backbone.hiddenSize
        return pooled.withUnsafeBufferPointer { h in
            tasks.enumerated().map { s, task in
                let logits = head.logits(pooled: h.baseAddress! + s * C, task: task, parameters: parameters)
                let maximum = logits.max() ?? 0
                let exps = logits.map { expf($0 - maximum) }
                let total = exps.reduce(0, +)
                let probabilities = exps.map { $0 / total }
                let label = probabilities.indices.max { probabilities[$0] < probabilities[$1] } ?? 0
                return Prediction(label: label, probabilities: probabilities)
            }
        }
    }
}

/// Examples right-padded to the longest of them, or to a public release length with every
/// position attended (``ClassificationObjective/releaseLength``).
struct PaddedBatch {
    let count: Int
    let length: Int
    let ids: [Int32]
    let tokenTypeIDs: [Int32]
    let mask: [Int32]

    /// - Precondition: no example is longer than `releaseLength`.
    init(_ examples: ArraySlice<TrainingExample>, releaseLength: Int? = nil) {
        count = examples.count
        let longest = examples.map(\.ids.count).max() ?? 1
        precondition(longest <= releaseLength ?? longest, "an example of \(longest) tokens exceeds the release length \(releaseLength ?? 0)")
        length = max(1, releaseLength ?? longest)
        var ids = [Int32](repeating: 0, count: count * length)
        var types = [Int32](repeating: 0, count: count * length)
        var mask = [Int32](repeating: releaseLength == nil ? 0 : 1, count: count * length)
        for (b, example) in examples.enumerated() {
            for (t, id) in example.ids.enumerated() {
                ids[b * length + t] = id
                mask[b * length + t] = 1
                if t < example.tokenTypeIDs.count { types[b * length + t] = example.tokenTypeIDs[t] }
            }
        }
        self.ids = ids
        self.tokenTypeIDs = types
        self.mask = mask
    }
}
