// SPDX-License-Identifier: Apache-2.0
// Dimensions: k = rank, IC = in features, OC = out features of a target module.
import AdapterKit
import Linalg
import Transformer

/// θ' = θ + P(u): per target module ΔW = (alpha/k)·B·A with A a fixed public projection
/// (``Projection``) and B trained from zero; u is all the B's (DESIGN §5.4).
///
/// The hooks own A, so no update can reach it; only B is trained, clipped, noised and
/// published.
final class ProjectedAdapter: Adapter {
    /// Mixed into the job's seed to give the projection its own stream ("projecte").
    static let projectionStream: UInt64 = 0x7072_6F6A_6563_7465

    private let update: LowRankOptions
    private let projection: Projection
    /// The seed a random A is drawn from; published in the adapter's configuration.
    let projectionSeed: UInt64
    /// λ1 of the regularizer λ1·‖ΔW‖².
    private let l2: Double
    private var allocation: DistortionAllocation
    private let projections: [[Float]]       // per site (k, IC)
    private let projectionGrams: [[Float]]   // per site A·Aᵀ (k, k)
    /// One hook per site, in site order, made when the segments are declared.
    private var hooks: [LowRankUpdate] = []

    /// - Throws: ``AdapterError`` from ``Projection/matrices(sites:rank:backbone:seed:)``.
    init(update: LowRankOptions, projection: Projection, backbone: any Backbone, seed: UInt64, l2: Double,
         allocation: DistortionAllocation) throws(AdapterError) {
        self.update = update
        self.projection = projection
        self.l2 = l2
        self.allocation = allocation
        projectionSeed = seed ^ Self.projectionStream
        projections = try projection.matrices(sites: update.sites, rank: update.rank, backbone: backbone, seed: projectionSeed)
        projectionGrams = zip(update.sites, projections).map { site, a in
            var gram = [Float](repeating: 0, count: update.rank * update.rank)
            // A·Aᵀ (k, k)
            BLAS.sgemm(transB: true, m: update.rank, n: update.rank, k: site.inFeatures,
                       a: a, lda: site.inFeatures, b: a, ldb: site.inFeatures, c: &gram, ldc: update.rank)
            return gram
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
            "projection_rule": .string(projection.rawValue),
            "projection": .string(projection.exportedDescription),
            "update": .string("delta_W = (alpha / rank) * B @ A; tensors <module>.projected_B.weight (out_features, rank)"),
            "l2": .number(l2),
        ]
    }
}
