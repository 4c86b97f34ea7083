// SPDX-License-Identifier: Apache-2.0

/// The plan a ledger charge paid for, as a daemon's job record keeps it.
///
/// The daemon plans a job at intake with the configuration it started with; its worker
/// plans again from the files when the job starts. If anything changed in between (the
/// config's defaults, the held-out fraction, the accountant), the worker's plan is not
/// the one charged, and it must train nothing (``TrainingJob/chargedPlan``). So too when
/// a forward-perturbation plugin was replaced by a build with another default label share.
public struct ChargedPlan: Sendable, Hashable {
    public var populationSize: Int
    public var samplingRate: Double
    public var steps: Int
    public var noiseMultiplier: Double
    public var targetEpsilon: Double
    public var delta: Double
    /// The accountant's manifest name (`prv`, `rdp`).
    public var accountant: String
    /// A forward-perturbation job's share of ε for its labels (the manifest's or the
    /// plugin's default when it was charged); nil for DP-SGD, or when not recorded.
    public var labelShare: Double?

    public init(populationSize: Int, samplingRate: Double, steps: Int, noiseMultiplier: Double,
                targetEpsilon: Double, delta: Double, accountant: String, labelShare: Double? = nil) {
        self.populationSize = populationSize
        self.samplingRate = samplingRate
        self.steps = steps
        self.noiseMultiplier = noiseMultiplier
        self.targetEpsilon = targetEpsilon
        self.delta = delta
        self.accountant = accountant
        self.labelShare = labelShare
    }

    public init(_ plan: TrainingPlan, labelShare: Double? = nil) {
        self.init(populationSize: plan.populationSize, samplingRate: plan.samplingRate, steps: plan.steps,
                  noiseMultiplier: plan.noiseMultiplier, targetEpsilon: plan.targetEpsilon, delta: plan.delta,
                  accountant: plan.accountant.rawValue, labelShare: labelShare)
    }

    /// Each field that differs from `other`'s, as `name charged → planned`, for the error.
    func differences(to other: ChargedPlan) -> [String] {
        var found: [String] = []
        func compare<Value: Equatable>(_ name: String, _ keyPath: KeyPath<ChargedPlan, Value>) {
            if self[keyPath: keyPath] != other[keyPath: keyPath] {
                found.append("\(name) \(self[keyPath: keyPath]) → \(other[keyPath: keyPath])")
            }
        }
        compare("N", \.populationSize)
        compare("q", \.samplingRate)
        compare("steps", \.steps)
        compare("σ", \.noiseMultiplier)
        compare("ε", \.targetEpsilon)
        compare("δ", \.delta)
        compare("accountant", \.accountant)
        if labelShare != other.labelShare {
            found.append("label share \(labelShare.map { "\($0)" } ?? "none") → \(other.labelShare.map { "\($0)" } ?? "none")")
        }
        return found
    }
}
