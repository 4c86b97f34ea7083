// SPDX-License-Identifier: Apache-2.0
// Dimensions: B = batch, T = sequence length, C = the layer's output width, S = sample index.
import Linalg
import Transformer

/// A trainable shift of one frozen layer's bias, `out += Δb` (BiTFiT), on a dense layer
/// (`Y = X·Wᵀ + b + Δb`) or a layer norm (`out = xhat·w + b + Δb`).
///
/// `Δb` starts at zero, so the backbone starts unchanged. Its per-sample gradient is the
/// sample's output gradient summed over tokens, `Σ_t G_s[t]`; rows of `G` at padding are
/// zero, so padding adds nothing. The shift does not depend on the layer's input, so it
/// adds no path to `dX` or `∂L/∂xhat`.
///
/// - Important: not thread-safe; it belongs to one job's training loop. It keeps a
///   reference to `parameters` and reads the current values on every call.
public final class BiasUpdate: LinearHook, NormHook {
    /// The index of `Δb` `(C)` in the parameters.
    public let segment: Int
    public let width: Int
    private let parameters: TrainableParameters

    /// Declares `Δb` `(width)`, zero-initialized, in `parameters` (not yet sealed).
    public init(name: String, width: Int, task: String? = nil, parameters: TrainableParameters) {
        self.width = width
        self.parameters = parameters
        segment = parameters.addSegment(name: name, shape: [width], task: task, initialization: .zeros)
    }

    /// `out[n, c] += Δb[c]` over `(N, C)`.
    private func addShift(_ output: UnsafeMutablePointer<Float>, rows N: Int) {
        let shift = parameters.values(segment), C = width
        for n in 0..<N {
            let row = output + n * C
            for c in 0..<C { row[c] += shift[c] }
        }
    }

    /// `∂L/∂Δb_s += Σ_t G_s[t]` for every sample of `G (B, T, C)`.
    private func accumulateSampleGradients(_ outputGradient: UnsafePointer<Float>, batch: Int, seqLen T: Int) {
        precondition(batch <= parameters.batch, "backward over \(batch) samples; only \(parameters.batch) reserved")
        for s in 0..<batch {
            Reductions.columnSums(out: parameters.sampleGradients(segment, sample: s), outputGradient + s * T * width,
                                  N: T, K: width)
        }
    }

    public func forward(output: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                        site: LinearSite, batch: Int, seqLen: Int) {
        precondition(site.outFeatures == width, "bias update of width \(width) attached to \(site) (\(site.outFeatures) outputs)")
        addShift(output, rows: batch * seqLen)
    }

    public func backward(inputGradient: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                         outputGradient: UnsafePointer<Float>, mask: UnsafePointer<Float>,
                         site: LinearSite, batch: Int, seqLen: Int) {
        precondition(site.outFeatures == width, "bias update of width \(width) attached to \(site) (\(site.outFeatures) outputs)")
        accumulateSampleGradients(outputGradient, batch: batch, seqLen: seqLen)
    }

    public func forward(output: UnsafeMutablePointer<Float>, normalized: UnsafePointer<Float>,
                        site: NormSite, batch: Int, seqLen: Int) {
        precondition(site.width == width, "bias update of width \(width) attached to \(site) (width \(site.width))")
        addShift(output, rows: batch * seqLen)
    }

    public func backward(normalizedGradient: UnsafeMutablePointer<Float>, normalized: UnsafePointer<Float>,
                         outputGradient: UnsafePointer<Float>, mask: UnsafePointer<Float>,
                         site: NormSite, batch: Int, seqLen: Int) {
        precondition(site.width == width, "bias update of width \(width) attached to \(site) (width \(site.width))")
        accumulateSampleGradients(outputGradient, batch: batch, seqLen: seqLen)
    }
}
