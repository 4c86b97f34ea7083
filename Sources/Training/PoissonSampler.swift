// SPDX-License-Identifier: Apache-2.0
import Foundation

/// Poisson sampling: each of `population` records (or privacy units) joins a batch
/// independently with probability `rate` (DESIGN §4.3, invariant 1).
///
/// Batch sizes vary and may be zero; the amplification-by-subsampling bound that the
/// accountant applies holds only for this scheme, not for shuffled fixed-size batches.
/// The generator must be secret to the adversary for the bound to hold: the trainer
/// passes the secure noise generator here, and a seeded one only in the explicitly
/// insecure reproducible mode.
public struct PoissonSampler: Sendable {
    public let population: Int
    public let rate: Double

    /// - Parameters:
    ///   - population: N, the number of records or units (treated as public).
    ///   - expectedBatchSize: B; the sampling rate is q = B / N, capped at 1.
    public init(population: Int, expectedBatchSize: Int) {
        precondition(population > 0, "population must be positive; found \(population)")
        precondition(expectedBatchSize > 0, "expected batch size must be positive; found \(expectedBatchSize)")
        self.init(population: population, rate: min(1, Double(expectedBatchSize) / Double(population)))
    }

    /// - Parameters:
    ///   - population: N.
    ///   - rate: q in (0, 1].
    public init(population: Int, rate: Double) {
        precondition(population > 0, "population must be positive; found \(population)")
        precondition(rate > 0 && rate <= 1, "sampling rate must be in (0, 1]; found \(rate)")
        self.population = population
        self.rate = rate
    }

    /// The indices, in increasing order, of the members drawn for one batch.
    ///
    /// Gaps between members are geometric with parameter q, drawn by inversion, which is
    /// the same distribution as N independent coin flips at O(batch) cost.
    public func sample<G: RandomNumberGenerator>(using generator: inout G) -> [Int] {
        if rate >= 1 { return Array(0..<population) }
        var members: [Int] = []
        members.reserveCapacity(Int(Double(population) * rate * 1.5) + 8)
        let logOneMinusQ = log1p(-rate)
        var index = -1
        while true {
            let u = generator.nextOpenUnitDouble()
            let gap = (log(u) / logOneMinusQ).rounded(.down)
            guard gap < Double(population) else { break }
            index += Int(gap) + 1
            guard index < population else { break }
            members.append(index)
        }
        return members
    }
}
