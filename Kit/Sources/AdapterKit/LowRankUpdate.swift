// SPDX-License-Identifier: Apache-2.0
// Dimensions: B = batch, T = sequence length, N = B·T token rows, IC/OC = the site's in/out
// features, r = rank, S = sample index.
import Linalg
import Transformer

/// A low-rank delta on one frozen dense layer, in PEFT's LoRA layout:
///
///     Y += s·(X Aᵀ) Bᵀ        A (r, IC), B (OC, r), s = scale
///
/// so the effective weight is `W + s·B·A` whatever the frozen weight's storage layout.
/// A and B are segments of the job's ``TrainableParameters`` (their names are the caller's,
/// e.g. PEFT's state-dict keys); A may instead be a fixed public matrix owned by the hook
/// (a public projection: seeded random, or derived from the frozen weight), in which case
/// only B is trained and A is no segment.
///
/// Backward differentiates the forward expression once for the whole batch and writes
/// each sample's gradients into its row with one GEMM per sample:
///
///     H = X Aᵀ (N, r)      U = G B (N, r)
///     ∂L/∂B_s = s·G_sᵀ H_s (OC, r)      ∂L/∂A_s = s·U_sᵀ X_s (r, IC)      dX += s·U A
///
/// Rows of `G` at padding tokens are zero, so padding adds nothing to any of them.
/// `H` and `U` live in scratch borrowed for each call from a pool that grows to the
/// largest batch seen and is then reused.
///
/// A trainer may attach one update to several replicas of its backbone and run their
/// chunks at once: every call keeps its state in its own scratch and writes only its own
/// samples' rows (``TrainableParameters/chunkOffset`` is per thread), and the parameter
/// values are only read during a step. It keeps a reference to `parameters` and reads the
/// current values on every call.
public final class LowRankUpdate: LinearHook {
    /// Where the down-projection A `(r, IC)` comes from.
    public enum DownProjection: Sendable {
        /// A trainable segment of this name, initialized as PEFT does: Kaiming-uniform with
        /// a = √5, i.e. uniform in ±1/√IC.
        case trainable(name: String)
        /// A fixed matrix, `r·IC` floats row-major, that is never trained.
        case fixed([Float])
    }

    public let site: LinearSite
    public let rank: Int
    public let scale: Float
    /// The index of B `(OC, r)` in the parameters.
    public let upSegment: Int
    /// The index of A `(r, IC)` in the parameters, or nil when A is fixed.
    public let downSegment: Int?

    private let parameters: TrainableParameters
    private let fixedDown: UnsafeMutablePointer<Float>?   // (r, IC) when A is fixed
    private let scratch = ScratchPool()

    /// Declares B (zeros, as PEFT) and, when trainable, A in `parameters`.
    ///
    /// - Parameters:
    ///   - site: the dense layer this delta belongs to; fixes IC and OC
    ///   - rank: r ≥ 1
    ///   - scale: s (PEFT: `lora_alpha / r`)
    ///   - down: A, trainable (declared first, under its name) or fixed
    ///   - upName: the segment name of B
    ///   - task: the task whose records alone reach these parameters, if any
    ///   - parameters: not yet sealed
    /// - Precondition: `rank ≥ 1`; a fixed A holds `rank·IC` floats.
    public init(site: LinearSite, rank: Int, scale: Float, down: DownProjection, upName: String, task: String? = nil,
                parameters: TrainableParameters) {
        precondition(rank >= 1, "rank must be at least 1; found \(rank)")
        self.site = site
        self.rank = rank
        self.scale = scale
        self.parameters = parameters
        switch down {
        case .trainable(let name):
            let bound = 1 / Float(site.inFeatures).squareRoot()
            downSegment = parameters.addSegment(name: name, shape: [rank, site.inFeatures], task: task,
                                                initialization: .uniform(bound: bound))
            fixedDown = nil
        case .fixed(let matrix):
            precondition(matrix.count == rank * site.inFeatures,
                         "a fixed A for \(site) needs \(rank)·\(site.inFeatures) values; found \(matrix.count)")
            let copy = UnsafeMutablePointer<Float>.allocate(capacity: matrix.count)
            copy.initialize(from: matrix, count: matrix.count)
            fixedDown = copy
            downSegment = nil
        }
        upSegment = parameters.addSegment(name: upName, shape: [site.outFeatures, rank], task: task, initialization: .zeros)
    }

    deinit {
        fixedDown?.deallocate()
    }

    /// A `(r, IC)`: the fixed matrix, or the segment's current values.
    private var down: UnsafePointer<Float> {
        if let fixedDown { return UnsafePointer(fixedDown) }
        guard let downSegment else { preconditionFailure("a low-rank update has neither a fixed nor a trainable A") }
        return UnsafePointer(parameters.values(downSegment))
    }

    public func forward(output: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                        site: LinearSite, batch: Int, seqLen: Int) {
        precondition(site == self.site, "low-rank update of \(self.site) called for \(site)")
        let N = batch * seqLen, IC = site.inFeatures, OC = site.outFeatures, r = rank
        let up = UnsafePointer(parameters.values(upSegment)), a = down
        scratch.withScratch(count: N * r) { h in   // (N, r): H = X Aᵀ
            BLAS.sgemm(transB: true, m: N, n: r, k: IC, a: input, lda: IC, b: a, ldb: IC, c: h, ldc: r)
            // Y += s·H Bᵀ
            BLAS.sgemm(transB: true, m: N, n: OC, k: r, alpha: scale, a: h, lda: r, b: up, ldb: r,
                       beta: 1, c: output, ldc: OC)
        }
    }

    public func backward(inputGradient: UnsafeMutablePointer<Float>, input: UnsafePointer<Float>,
                         outputGradient: UnsafePointer<Float>, mask: UnsafePointer<Float>,
                         site: LinearSite, batch: Int, seqLen: Int) {
        precondition(site == self.site, "low-rank update of \(self.site) called for \(site)")
        precondition(batch <= parameters.batch, "backward over \(batch) samples; only \(parameters.batch) reserved")
        let T = seqLen, N = batch * T, IC = site.inFeatures, OC = site.outFeatures, r = rank
        let up = UnsafePointer(parameters.values(upSegment)), a = down
        scratch.withScratch(count: 2 * N * r) { work in
            let h = work, u = work + N * r   // (N, r) each: H = X Aᵀ, U = G B
            BLAS.sgemm(transB: true, m: N, n: r, k: IC, a: input, lda: IC, b: a, ldb: IC, c: h, ldc: r)
            BLAS.sgemm(m: N, n: r, k: OC, a: outputGradient, lda: OC, b: up, ldb: r, c: u, ldc: r)
            // Y = X Wᵀ + s·(X Aᵀ) Bᵀ  ⇒  dX += s·(G B) A
            BLAS.sgemm(m: N, n: IC, k: r, alpha: scale, a: u, lda: r, b: a, ldb: IC, beta: 1, c: inputGradient, ldc: IC)
            guard batch > 0 else { return }
            let stride = parameters.sampleStride
            // ∂L/∂B_s += s·G_sᵀ H_s   (OC, r) per sample
            BLAS.sgemmStridedBatched(transA: true, m: OC, n: r, k: T, alpha: scale,
                                     a: outputGradient, lda: OC, strideA: T * OC, b: h, ldb: r, strideB: T * r,
                                     beta: 1, c: parameters.sampleGradients(upSegment, sample: 0), ldc: r, strideC: stride,
                                     count: batch)
            if let downSegment {
                // ∂L/∂A_s += s·U_sᵀ X_s   (r, IC) per sample
                BLAS.sgemmStridedBatched(transA: true, m: r, n: IC, k: T, alpha: scale,
                                         a: u, lda: r, strideA: T * r, b: input, ldb: IC, strideB: T * IC,
                                         beta: 1, c: parameters.sampleGradients(downSegment, sample: 0), ldc: IC,
                                         strideC: stride, count: batch)
            }
        }
    }
}
