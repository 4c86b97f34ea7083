// SPDX-License-Identifier: Apache-2.0
import Foundation
import Privacy
import Records

/// The privacy side of a DP-SGD job, fixed before its first step: sampling rate, steps,
/// noise, and the `DpEvent` the ledger is charged with.
///
/// N is the number of records (or units under per-unit privacy) left for training after the
/// held-out split; it is treated as public (DESIGN §4.3 item 7).
public struct TrainingPlan: Sendable, Hashable {
    /// N: records or units the sampler draws from.
    public let populationSize: Int
    /// q = B/N, capped at 1.
    public let samplingRate: Double
    /// T = ⌈epochs · N / min(B, N)⌉: epochs passes over the N records.
    public let steps: Int
    /// σ: noise standard deviation over the clipping norm.
    public let noiseMultiplier: Double
    public let targetEpsilon: Double
    public let delta: Double
    public let accountant: Manifest.Accountant

    /// `poissonSampled(q, gaussian(σ))` repeated T times.
    public var event: DpEvent {
        DpEvent.poissonSampled(probability: samplingRate, event: .gaussian(noiseMultiplier: noiseMultiplier))
            .repeated(steps)
    }

    /// The most steps a job may take. A manifest's epochs are the data owner's number, and a
    /// plan of 4.5·10^10 steps was admitted, charged, and could never have finished (its
    /// worker died allocating 80 GB). A million steps is weeks on the CPUs dptune runs on;
    /// every step's loss and ε is kept for the report, 16 MB at this bound. It bounds a
    /// forward-perturbation job too, whose head trains for as many steps on its one release
    /// without noise, so its refusal speaks of the run's length, not of DP-SGD.
    public static let maximumSteps = 1_000_000

    /// Relative width of the σ bisection: σ is at most this much above the exact threshold.
    public static let calibrationTolerance = 1e-4

    /// The longest PLD loss grid the calibration builds: 2^21 points. A manifest's ε can be any
    /// finite number, and a huge one (1e308) drives the search to the least noise the PLD
    /// accountant can price; at its default limit of 2^25 points that took 4.6 s and 600 MB
    /// (q = 0.01, T = 1000) and ended in a refusal, at 2^21 a plan arrives in about 0.25 s.
    /// 2^21 still prices ε up to about 50 for one full-batch step at δ = 1e-5; past that the
    /// plan takes the least noise it can price, which spends less than asked.
    public static let calibrationGridLength = 1 << 21

    /// Plans a job on `populationSize` records or units.
    ///
    /// - Throws: ``TrainingPlanError`` `.deltaTooLarge` for δ ≥ 1/N, `.invalidParameters`
    ///   for a non-positive N, batch or epoch count, an epoch count whose samples overflow or
    ///   that takes more than ``maximumSteps``,
    ///   `.unreachableEpsilon` when no noise meets ε.
    public init(
        populationSize: Int, expectedBatch: Int, epochs: Int,
        epsilon: Double, delta: Double, accountant: Manifest.Accountant
    ) throws(TrainingPlanError) {
        guard populationSize > 0 else {
            throw TrainingPlanError(.invalidParameters, "the training split is empty (N = \(populationSize)), refusing")
        }
        guard expectedBatch > 0, epochs > 0 else {
            throw TrainingPlanError(
                .invalidParameters,
                "expected batch and epochs must be positive; found expected_batch \(expectedBatch), epochs \(epochs)")
        }
        guard delta > 0, delta * Double(populationSize) < 1 else {
            throw TrainingPlanError(
                .deltaTooLarge,
                "delta \(delta) must be in (0, 1/N) for N = \(populationSize) (1/N = \(1 / Double(populationSize))), refusing")
        }
        let rate = min(1, Double(expectedBatch) / Double(populationSize))
        // The manifest's epochs are the data owner's number: an overflow here would kill the daemon at intake.
        let (samples, overflow) = epochs.multipliedReportingOverflow(by: populationSize)
        guard !overflow else {
            throw TrainingPlanError(
                .invalidParameters, "epochs \(epochs) over N = \(populationSize) records is more steps than can be counted")
        }
        // A batch cannot hold more than everyone: at q = 1 each step is a pass, so a job
        // asking 3 epochs of 36 records at expected batch 64 takes 3 steps, not ⌈108/64⌉ = 2.
        let (quotient, remainder) = samples.quotientAndRemainder(dividingBy: min(expectedBatch, populationSize))
        let steps = quotient + (remainder == 0 ? 0 : 1)
        guard steps <= Self.maximumSteps else {
            throw TrainingPlanError(
                .invalidParameters,
                "epochs \(epochs) over N = \(populationSize) at expected batch \(expectedBatch) would train for \(steps) steps, more than the \(Self.maximumSteps) a job may take whatever its strategy (a bound on the run's length, not on its privacy); use fewer epochs or a larger expected batch")
        }
        let sigma: Double
        do {
            sigma = try NoiseCalibration.noiseMultiplier(
                targetEpsilon: epsilon, delta: delta, samplingRate: rate, steps: steps,
                tolerance: Self.calibrationTolerance,
                makeAccountant: Self.accountantFactory(accountant, maximumGridLength: Self.calibrationGridLength))
        } catch {
            throw TrainingPlanError(
                .unreachableEpsilon,
                "no noise meets epsilon \(epsilon) at delta \(delta) with q = \(rate) over \(steps) steps: \(error)")
        }
        self.populationSize = populationSize
        self.samplingRate = rate
        self.steps = steps
        self.noiseMultiplier = sigma
        self.targetEpsilon = epsilon
        self.delta = delta
        self.accountant = accountant
    }

    /// Plans the job a manifest asks for on a validated dataset, after holding out
    /// `heldOutFraction` (in [0, 1)) of its records or units for evaluation, as
    /// ``HeldOutSplit`` will at training time.
    public init(manifest: Manifest, dataset: DatasetSummary, heldOutFraction: Double) throws(TrainingPlanError) {
        guard dataset.privacyUnitCount > 0, heldOutFraction >= 0, heldOutFraction < 1 else {
            throw TrainingPlanError(
                .invalidParameters,
                "need N > 0 and a held-out fraction in [0, 1); found N = \(dataset.privacyUnitCount), fraction \(heldOutFraction)")
        }
        let split = HeldOutSplit(
            memberCount: dataset.privacyUnitCount, heldOutFraction: heldOutFraction, seed: manifest.train.seed)
        try self.init(
            populationSize: split.training.count, expectedBatch: manifest.train.expectedBatch,
            epochs: manifest.train.epochs, epsilon: manifest.privacy.epsilon, delta: manifest.privacy.delta,
            accountant: manifest.privacy.accountant)
    }

    /// ε of `event` at the plan's δ (add-or-remove adjacency), by the plan's accountant, or by
    /// RDP for an event the plan's cannot price (PLD prices randomized response only under
    /// replace-one).
    ///
    /// - Returns: ε and the accountant that priced it.
    public func epsilon(of event: DpEvent) throws -> (epsilon: Double, accountant: Manifest.Accountant) {
        var kind = accountant
        var priced = Self.accountantFactory(kind)(.addOrRemoveOne)
        if !priced.supports(event) {
            kind = .rdp
            priced = Self.accountantFactory(.rdp)(.addOrRemoveOne)
        }
        try priced.compose(event)
        return (try priced.epsilon(delta: delta), kind)
    }

    /// A fresh accountant of the kind the manifest chose: PLD for `prv` (building loss grids of
    /// at most `maximumGridLength` points), RDP for `rdp`.
    public static func accountantFactory(
        _ accountant: Manifest.Accountant, maximumGridLength: Int = PLDAccountant.defaultMaximumGridLength
    ) -> (NeighboringRelation) -> any PrivacyAccountant {
        switch accountant {
        case .prv: { PLDAccountant(neighboringRelation: $0, maximumGridLength: maximumGridLength) }
        case .rdp: { RDPAccountant(neighboringRelation: $0) }
        }
    }
}

/// Why a job cannot be planned.
public struct TrainingPlanError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: String { case deltaTooLarge = "delta_too_large", invalidParameters = "invalid_parameters", unreachableEpsilon = "unreachable_epsilon" }
        private let value: Value
        private init(_ value: Value) { self.value = value }
        public static let deltaTooLarge = Code(.deltaTooLarge)
        public static let invalidParameters = Code(.invalidParameters)
        public static let unreachableEpsilon = Code(.unreachableEpsilon)
        public var description: String { value.rawValue }
    }

    public let code: Code
    public let message: String
    public let file: String
    public let line: Int

    public init(_ code: Code, _ message: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
    }

    public static func == (lhs: TrainingPlanError, rhs: TrainingPlanError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
    public var description: String { "\(code): \(message)" }
}
