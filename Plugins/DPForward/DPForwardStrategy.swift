// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Linalg
import Privacy
import Transformer

/// DP-Forward (Du et al., 2023): privatize each sequence's hidden states in the forward
/// pass instead of the gradients.
///
/// At one block boundary every sequence's hidden matrix, at the public max_len, is clipped to
/// Frobenius norm C and gets Gaussian noise calibrated by the analytic Gaussian mechanism
/// for (ε_f, δ) at sensitivity 2C: replacing one sequence by another moves the clipped
/// matrix by at most 2C. The label is released by k-ary randomized response with ε_l;
/// ε_f + ε_l = ε. The guarantee is local, per sequence, and holds in inference too, which
/// is why the noise stays on when the adapter is used for prediction.
final class DPForwardStrategy: AdapterStrategy {
    let id = "dp-forward"
    let version = "1.1.0"
    let summary = "DP-Forward: analytic-Gaussian noise on each sequence's hidden states, labels by randomized response"
    let mechanismKind = MechanismKind.forwardPerturbation
    let options = [
        StrategyOption(name: "layer", kind: .integer, defaultJSON: "-1",
                       help: "block boundary where the noise is added (0 = embeddings; -1 = the last hidden state)"),
        StrategyOption(name: "feature_clip", kind: .number, defaultJSON: "1.0",
                       help: "Frobenius norm C each sequence's hidden matrix is clipped to"),
        StrategyOption(name: ForwardPerturbationBudget.labelShareOption, kind: .number, defaultJSON: "0.25",
                       help: "share of ε spent on randomized response for the label (0 < share < 1)"),
    ]

    func makeAdapter(backbone: any Backbone, configuration: AdapterConfiguration) throws -> any Adapter {
        guard configuration.objective == .classify else {
            throw AdapterError(.unsupportedObjective, "dp-forward releases labels by randomized response, so it trains classify only")
        }
        let requested = try configuration.options.integer("layer")
        let boundary = requested == -1 ? backbone.layerCount : requested
        guard (0...backbone.layerCount).contains(boundary) else {
            throw AdapterError(.invalidOption, "layer must be -1 or in 0...\(backbone.layerCount); found \(requested)")
        }
        let clip = try configuration.options.number("feature_clip")
        guard clip > 0, clip.isFinite else {
            throw AdapterError(.invalidOption, "feature_clip must be positive; found \(clip)")
        }
        let budget: ForwardPerturbationBudget
        let multiplier: Double
        do {
            budget = try ForwardPerturbationBudget(
                epsilon: configuration.epsilon, delta: configuration.delta,
                labelShare: try configuration.options.number(ForwardPerturbationBudget.labelShareOption))
            multiplier = try budget.featureNoiseMultiplier()
        } catch let error as AdapterError {
            throw error
        } catch {
            throw AdapterError(.invalidOption, "\(error)")
        }
        return try ForwardPerturbationAdapter(
            boundary: boundary, clip: clip, noiseMultiplier: multiplier, labelEpsilon: budget.labelEpsilon)
    }
}

/// Clips and noises hidden states at one boundary; trains nothing itself (the trainer's
/// head learns on the released representations).
final class ForwardPerturbationAdapter: Adapter, HiddenStateHook {
    let boundary: Int
    let clip: Double
    /// σ per unit of sensitivity; the noise std is this times 2C.
    let noiseMultiplier: Double
    let labelEpsilon: Double
    private let noise: GaussianNoiseSource
    /// Each thread's clip scales of its last forward, for its backward: replicas of the
    /// backbone call this hook from several threads at once (plugin ABI 3).
    private let scales = PerThreadValue<[Float]>()
    private let noiseScratch = ScratchPool()

    init(boundary: Int, clip: Double, noiseMultiplier: Double, labelEpsilon: Double) throws {
        self.boundary = boundary
        self.clip = clip
        self.noiseMultiplier = noiseMultiplier
        self.labelEpsilon = labelEpsilon
        noise = try GaussianNoiseSource()
    }

    var mechanism: PrivacyMechanism {
        .forwardPerturbation(featureEvent: .gaussian(noiseMultiplier: noiseMultiplier), labelEpsilon: labelEpsilon)
    }

    /// The noise std on each entry: sensitivity 2C times the multiplier.
    var standardDeviation: Double { noiseMultiplier * 2 * clip
    }

    func declareParameters(in parameters: TrainableParameters) {}

    func attach(to backbone: any Backbone, parameters: TrainableParameters) {
        backbone.setHiddenStateHook(self, atBoundary: boundary)
    }

    func detach(from backbone: any Backbone) {
        backbone.setHiddenStateHook(nil, atBoundary: boundary)
    }

    func exportedConfiguration(baseModel: String) -> [String: ConfigurationValue] {
        ["strategy": .string("dp-forward"), "base_model_name_or_path": .string(baseModel), "layer": .integer(boundary),
         "feature_clip": .number(clip), "noise_standard_deviation": .number(standardDeviation),
         "label_epsilon": .number(labelEpsilon)]
    }

    /// Each sequence's whole `(T, C)` matrix: clipped to Frobenius norm C, then N(0, σ²) on
    /// every entry. Nothing here reads the mask: a padding row left at zero would tell the
    /// record's length, and the trainer pads every sequence to the public max_len, every
    /// position attended, so that the release's shape is the same for any record too. A
    /// sequence whose rows hold a NaN or an infinity is released as noise alone: clipping it
    /// would give NaN, and a NaN release is no longer private; the zero matrix is within the clip.
    func forward(hidden: UnsafeMutablePointer<Float>, mask: UnsafePointer<Float>, batch: Int, seqLen: Int, width: Int) {
        let entries = seqLen * width
        var scales = [Float](repeating: 1, count: batch)
        noiseScratch.withScratch(count: batch * entries) { buffer in
            noise.fill(UnsafeMutableBufferPointer(start: buffer, count: batch * entries), standardDeviation: standardDeviation)
            for b in 0..<batch {
                let matrix = hidden + b * entries, noise = buffer + b * entries
                var squares: Double = 0
                for i in 0..<entries { squares += Double(matrix[i]) * Double(matrix[i]) }
                let finite = squares.isFinite
                let scale = finite ? Float(clip / max(squares.squareRoot(), clip)) : 0
                scales[b] = scale
                for i in 0..<entries { matrix[i] = (finite ? matrix[i] * scale : 0) + noise[i] }
            }
        }
        self.scales.value = scales
    }

    /// The noise is constant in the input and the clip a per-sequence scale: backward
    /// scales the gradient by it (treating the scale as constant).
    func backward(hiddenGradient: UnsafeMutablePointer<Float>, mask: UnsafePointer<Float>, batch: Int, seqLen: Int, width: Int) {
        let scales = self.scales.value ?? []
        precondition(scales.count == batch, "backward of a batch of \(batch) after a forward of \(scales.count) on this thread")
        for b in 0..<batch {
            let g = hiddenGradient + b * seqLen * width
            for i in 0..<(seqLen * width) { g[i] *= scales[b] }
        }
    }
}
