// SPDX-License-Identifier: Apache-2.0
import Foundation

/// Mean and sample standard deviation of repeated measurements (one per seed).
struct Spread {
    let mean: Double
    /// Sample standard deviation (n − 1); 0 for a single value.
    let deviation: Double
    let count: Int

    init(_ values: [Double]) {
        let finite = values.filter(\.isFinite)
        count = finite.count
        mean = finite.isEmpty ? .nan : finite.reduce(0, +) / Double(finite.count)
        let m = mean
        deviation = finite.count < 2 ? 0 : (finite.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(finite.count - 1)).squareRoot()
    }

    /// `54.1 ± 1.2` in percent (the ± only with more than one value).
    var percentText: String {
        guard count > 0 else { return "—" }
        return count > 1 ? String(format: "%.1f ± %.1f", mean * 100, deviation * 100) : String(format: "%.1f", mean * 100)
    }
}
