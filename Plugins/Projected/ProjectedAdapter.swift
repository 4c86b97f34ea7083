// SPDX-License-Identifier: Apache-2.0
// Dimensions: k = rank, IC = in features, OC = out features of a target module.
import AdapterKit
import Linalg
import Transformer

/// θ' = θ + P(u): per target module ΔW = (alpha/k)·B·A with A a fixed public random
/// projection and B trained from zero; u is all the B's (DESIGN §5.4).
///
/// A is public: it is drawn from ``projectionSeed`` (the job's public seed mixed with a
/// constant, so it is not the stream that initializes other parameters) by one
/// ``SeededGenerator``, target modules in forward order, each A `(k, IC)` row-major with
/// entries N(0, 1/IC), so every row has unit expected squared norm. Anyone holding the
/// seed regenerates it; only B is trained, clipped, noised and published. The hooks own A,
/// so no update can reach it.
final class ProjectedAdapter: Adapter {
    /// Mixed into the job's seed to give the projection its own stream ("projecte").
    static let projectionStream: UInt64 = 0x7072_6F6A_6563_7465

    private let update: LowRankOptions
    /// The seed A is drawn from; published in the adapter's configuration.
    let projectionSeed: UInt64
    /// λ1 of the regularizer λ1·‖ΔW‖².
    private let l2: Double
    private var allocation: DistortionAllocation
    private let projections: [[Float]]       // per site (k, IC)
    private let projectionGrams: [[Float]]   // per site A·Aᵀ (k, k)
    /// One hook per site, in site order, made when the segments are declared.
    private var hooks: [LowRankUpdate] = []

    init(update: LowRankOptions, seed: UInt64, l2: Double, allocation: DistortionAllocation) {
        self.update = update
        self.l2 = l2
        self.allocation = allocation
        projectionSeed = seed ^ Self.projectionStream
        projections = Self.projections(seed: projectionSeed, sites: update.sites, rank: update.rank)
        projectionGrams = zip(update.sites, projections).map { site, a in
            var gram = [Float](repeating: 0, count: update.rank * update.rank)
            // A·Aᵀ (k, k)
            BLAS.sgemm(transB: true, m: update.rank, n: update.rank, k: site.inFeatures,
                       a: a, lda: site.inFeatures, b: a, ldb: site.inFeatures, c: &gram, ldc: update.rank)
            return gram
        }
    }

    /// The projections of `sites`, in order, each `(rank, IC)` row-major with entries N(0, 1/IC).
    static func projections(seed: UInt64, sites: [LinearSite], rank: Int) -> [[Float]] {
        var generator = SeededGenerator(seed: seed)
        return sites.map { site in
            let std = 1 / Double(site.inFeatures).squareRoot()
            return (0..<(rank * site.inFeatures)).map { _ in Float(std * generator.nextStandardNormal()) }
        }
    }

    var mechanism: PrivacyMechanism { .gradientPerturbation }

    func declareParameters(in parameters: TrainableParameters) {
        hooks = zip(update.sites, projections).map { site, projection in
            LowRankUpdate(site: site, rank: update.rank, scale: update.scale, down: .fixed(projection),
                          upName: "\(site.parameterName).projected_B.weight", parameters: parameters)
        }
    }

    func attach(to backbone: any Backbone, parameters: TrainableParameters) {
        for hook in hooks { backbone.setHook(hook, for: hook.site) }
    }

    func detach(from backbone: any Backbone) {
        for site in update.sites { backbone.setHook(nil, for: site) }
    }

    func noiseAllocation(target: NoiseTarget, previous: PrivatizedStatistics?) -> NoiseAllocation {
        allocation.allocation(target: target, previous: previous)
    }

    /// Adds ∂/∂B of λ1·‖ΔW‖_F² with ΔW = s·B·A (s = alpha/k): 2λ1·s²·B·(A·Aᵀ).
    func addRegularizationGradient(parameters: TrainableParameters, into gradient: UnsafeMutableBufferPointer<Float>) {
        guard l2 > 0, let base = gradient.baseAddress else { return }
        let k = update.rank
        for (hook, gram) in zip(hooks, projectionGrams) {
            // ∂/∂B += 2λ1·s²·B·(A·Aᵀ)   (OC, k)
            BLAS.sgemm(m: hook.site.outFeatures, n: k, k: k, alpha: Float(2 * l2) * update.scale * update.scale,
                       a: parameters.values(hook.upSegment), lda: k, b: gram, ldb: k,
                       beta: 1, c: base + parameters.segments[hook.upSegment].offset, ldc: k)
        }
    }

    func exportedConfiguration(baseModel: String) -> [String: ConfigurationValue] {
        [
            "dptune_strategy": .string("projected"),
            "base_model_name_or_path": .string(baseModel),
            "rank": .integer(update.rank),
            "alpha": .number(update.alpha),
            "target_modules": .array(update.moduleNames.map { .string($0) }),
            // A string: a 64-bit seed does not survive JSON readers that hold numbers as doubles.
            "projection_seed": .string(String(projectionSeed)),
            "projection": .string("A (rank, in_features) per target module in forward order, row-major, entries N(0, 1/in_features) from xoshiro256** seeded by SplitMix64(projection_seed), Box-Muller"),
            "update": .string("delta_W = (alpha / rank) * B @ A; tensors <module>.projected_B.weight (out_features, rank)"),
            "l2": .number(l2),
        ]
    }
}
