// SPDX-License-Identifier: Apache-2.0

/// The plan a ledger charge paid for, as a daemon's job record keeps it.
///
/// The daemon plans a job at intake with the configuration it started with; its worker
/// plans again from the files when the job starts. If anything changed in between (the
/// config's defaults, the held-out fraction, the accountant), the worker's plan is not
/// the one charged, and it must train nothing (``TrainingJob/chargedPlan``).
public struct ChargedPlan: Sendable, Hashable {
    public var populationSize: Int
    public var samplingRate: Double
    public var steps: Int
    public var noiseMultiplier: Double
    public var targetEpsilon: Double
    public var delta: Double
    /// The accountant's manifest name (`prv`, `rdp`).
    public var accountant: String

    public init(populationSize: Int, samplingRate: Double, steps: Int, noiseMultiplier: Double,
                targetEpsilon: Double, delta: Double, accountant: String) {
        self.populationSize = populationSize
        self.samplingRate = samplingRate
        self.steps = steps
        self.noiseMultiplier = noiseMultiplier
        self.targetEpsilon = targetEpsilon
        self.delta = delta
        self.accountant = accountant
    }

    public init(_ plan: TrainingPlan) {
        self.init(populationSize: plan.populationSize, samplingRate: plan.samplingRate, steps: plan.steps,
                  noiseMultiplier: plan.noiseMultiplier, targetEpsilon: plan.targetEpsilon, delta: plan.delta,
                  accountant: plan.accountant.rawValue)
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
        return found
    }
}
