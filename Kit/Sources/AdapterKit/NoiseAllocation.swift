// SPDX-License-Identifier: Apache-2.0

/// How one DP-SGD step privatizes the clipped gradient sum: a clipping bound and a
/// Gaussian noise standard deviation per parameter segment.
///
/// Two clipping modes exist. Under a **joint** clip every sample's whole gradient is
/// clipped to norm C, so all of it may sit in one segment and the guarantee is that of
/// the least noisy segment: σ_eff = min_g s_g / C. Under **group-wise** clipping each
/// segment g is clipped to C_g separately, and the Gaussian mechanism with covariance
/// diag(s_g²) on sensitivity vectors with ‖Δ_g‖ ≤ C_g has Mahalanobis sensitivity
/// √(Σ_g C_g²/s_g²), so σ_eff = (Σ_g C_g²/s_g²)^(-1/2) (DESIGN §4.3, invariant 4).
/// The accountant is always handed ``effectiveNoiseMultiplier``: no allocation can lower
/// the noise anywhere without the accountant seeing it.
public struct NoiseAllocation: Sendable, Hashable, Codable {
    public enum Clipping: Sendable, Hashable, Codable {
        /// One bound on each sample's whole gradient.
        case joint(clip: Double)
        /// One bound per segment, in segment order.
        case groupWise(clips: [Double])
    }

    public let clipping: Clipping
    /// Noise standard deviation added to each segment of the clipped sum, in segment order.
    public let standardDeviations: [Double]

    /// - Precondition: every clip and standard deviation is positive and finite, and a
    ///   group-wise allocation has one clip per segment.
    public init(clipping: Clipping, standardDeviations: [Double]) {
        precondition(!standardDeviations.isEmpty, "an allocation needs at least one segment")
        precondition(standardDeviations.allSatisfy { $0 > 0 && $0.isFinite },
                     "noise standard deviations must be positive and finite; found \(standardDeviations)")
        switch clipping {
        case .joint(let clip):
            precondition(clip > 0 && clip.isFinite, "clip must be positive and finite; found \(clip)")
        case .groupWise(let clips):
            precondition(clips.count == standardDeviations.count,
                         "group-wise clipping needs one clip per segment; found \(clips.count) for \(standardDeviations.count)")
            precondition(clips.allSatisfy { $0 > 0 && $0.isFinite }, "clips must be positive and finite; found \(clips)")
        }
        self.clipping = clipping
        self.standardDeviations = standardDeviations
    }

    /// The same noise multiplier σ on every one of `segmentCount` segments under one joint clip C.
    public static func uniform(noiseMultiplier: Double, clip: Double, segmentCount: Int) -> NoiseAllocation {
        NoiseAllocation(clipping: .joint(clip: clip),
                        standardDeviations: Array(repeating: noiseMultiplier * clip, count: segmentCount))
    }

    /// The noise multiplier of the single Gaussian mechanism this allocation is exactly as
    /// private as; the number handed to the accountant.
    public var effectiveNoiseMultiplier: Double {
        effectiveNoiseMultiplier(segments: standardDeviations.indices)
    }

    /// σ_eff restricted to some segments: the guarantee of a record whose gradient can
    /// only reach those segments (one task's, under multi-task training).
    public func effectiveNoiseMultiplier<S: Sequence>(segments: S) -> Double where S.Element == Int {
        switch clipping {
        case .joint(let clip):
            return segments.map { standardDeviations[$0] }.min().map { $0 / clip } ?? .infinity
        case .groupWise(let clips):
            let precision = segments.reduce(0.0) { sum, g in
                let ratio = clips[g] / standardDeviations[g]
                return sum + ratio * ratio
            }
            return 1 / precision.squareRoot()
        }
    }

    /// The clip of segment `g`: C_g under group-wise clipping, the joint C otherwise.
    public func clip(segment g: Int) -> Double {
        switch clipping {
        case .joint(let clip): clip
        case .groupWise(let clips): clips[g]
        }
    }
}
