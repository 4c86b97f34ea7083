// SPDX-License-Identifier: Apache-2.0

/// What an adapter may look at when it allocates noise for the next step: quantities
/// that were already privatized, and public facts.
///
/// Allocation decisions are post-processing only if they read nothing private (DESIGN
/// §4.3, invariant 5). Plugins can read this type but not create one: only the trainer
/// builds it (through `@_spi(Trainer)`), from the noisy gradient it has just released.
/// So an allocation rule cannot be handed raw per-sample gradients by mistake.
public struct PrivatizedStatistics: Sendable {
    /// The step that produced these statistics (1-based).
    public let step: Int
    /// The released noisy gradient (clipped sum + noise, divided by the expected batch size), flat.
    public let noisyGradient: [Float]
    /// Each segment's noisy gradient squared norm, in segment order.
    public let segmentSquaredNorms: [Double]
    /// The allocation the released gradient was privatized with.
    public let allocation: NoiseAllocation
    /// The expected batch size (public: B = q·N).
    public let expectedBatchSize: Double

    @_spi(Trainer)
    public init(step: Int, noisyGradient: [Float], segmentSquaredNorms: [Double],
                allocation: NoiseAllocation, expectedBatchSize: Double) {
        self.step = step
        self.noisyGradient = noisyGradient
        self.segmentSquaredNorms = segmentSquaredNorms
        self.allocation = allocation
        self.expectedBatchSize = expectedBatchSize
    }
}
