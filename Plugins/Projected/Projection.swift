// SPDX-License-Identifier: Apache-2.0
// Dimensions: k = rank, IC = in features, OC = out features of a target module.
import AdapterKit
import Linalg
import Transformer

/// How the fixed down-projection A `(k, IC)` of each target module is chosen. Both rules
/// read only public things (the frozen backbone, the job's public seed), so A costs no
/// privacy and whoever holds the backbone and the adapter's configuration rebuilds it.
enum Projection: String, CaseIterable {
    /// The k leading right singular vectors of the frozen weight W, as orthonormal rows:
    /// the input directions the pretrained layer amplifies most. B's gradient is
    /// Σ_t g_t·(A·x_t)ᵀ; a random A keeps about k/IC of each input's energy, these rows
    /// keep the part the layer already responds to, so more of the clipped per-sample
    /// gradient is signal the noise has to compete with (the choice of PiSSA, Meng et al.
    /// 2024, for initializing LoRA, used here for a projection that is never trained).
    case principal
    /// Entries N(0, 1/IC) from ``SeededGenerator`` seeded with the projection seed, target
    /// modules in forward order: every row has unit expected squared norm, like a
    /// principal row's exact one.
    case random

    /// The projections of `sites`, in order, each `(rank, IC)` row-major.
    ///
    /// - Throws: ``AdapterError`` `.unsupportedBackbone` when the backbone does not expose
    ///   a site's weight, or that weight has no principal subspace (an entry that is not
    ///   finite).
    func matrices(sites: [LinearSite], rank: Int, backbone: any Backbone, seed: UInt64) throws(AdapterError) -> [[Float]] {
        switch self {
        case .random:
            var generator = SeededGenerator(seed: seed)
            return sites.map { site in
                let std = 1 / Double(site.inFeatures).squareRoot()
                return (0..<(rank * site.inFeatures)).map { _ in Float(std * generator.nextStandardNormal()) }
            }
        case .principal:
            return try sites.map { site throws(AdapterError) in
                guard let weight = backbone.frozenWeight(of: site), let base = weight.baseAddress else {
                    throw AdapterError(.unsupportedBackbone, "the backbone does not expose the weight of \(site.parameterName); use strategy option projection \"random\"")
                }
                do {
                    return try SingularSubspace.leadingRightSingularVectors(
                        of: base, m: site.outFeatures, n: site.inFeatures, transposed: site.weightLayout == .inOut, count: rank)
                } catch {
                    throw AdapterError(.unsupportedBackbone, "no principal projection for \(site.parameterName) (\(error))")
                }
            }
        }
    }

    /// How the exported configuration describes A.
    var exportedDescription: String {
        switch self {
        case .principal:
            "A (rank, in_features) per target module: the rank leading right singular vectors of the frozen weight (input directions, largest singular value first), orthonormal rows, each signed so its largest-magnitude entry is positive (eigenvectors of W^T W in double precision, LAPACK dsyevd)"
        case .random:
            "A (rank, in_features) per target module in forward order, row-major, entries N(0, 1/in_features) from xoshiro256** seeded by SplitMix64(projection_seed), Box-Muller"
        }
    }
}
