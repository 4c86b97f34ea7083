// SPDX-License-Identifier: Apache-2.0
import Privacy
import Transformer

/// What a job tells a strategy when it asks for an adapter: all of it public.
public struct AdapterConfiguration: Sendable {
    public enum Objective: String, Sendable, Hashable {
        /// Pooled output → a head over the task's declared labels.
        case classify
        /// Next-token loss on the response tokens.
        case generate
    }

    public let options: StrategyOptions
    public let objective: Objective
    /// The tasks of the dataset, sorted (declared in the manifest, hence public).
    public let tasks: [String]
    /// The public label set of each task (classification).
    public let labels: [String: [String]]
    /// The public seed for initialization and public random projections.
    public let seed: UInt64
    /// The clipping norm C of the manifest.
    public let clip: Double
    /// The job's (ε, δ) target: a strategy that privatizes on its own (DP-Forward) calibrates to it.
    public let epsilon: Double
    public let delta: Double

    public init(options: StrategyOptions, objective: Objective, tasks: [String], labels: [String: [String]],
                seed: UInt64, clip: Double, epsilon: Double, delta: Double) {
        self.options = options
        self.objective = objective
        self.tasks = tasks
        self.labels = labels
        self.seed = seed
        self.clip = clip
        self.epsilon = epsilon
        self.delta = delta
    }
}

/// Where a strategy's privacy comes from; the trainer and the ledger price a job by it.
public enum PrivacyMechanism: Sendable, Hashable {
    /// DP-SGD: the trainer clips every per-sample gradient and adds the adapter's
    /// ``NoiseAllocation``; the guarantee is the subsampled Gaussian with σ_eff.
    case gradientPerturbation
    /// The adapter privatizes each training sequence itself in the forward pass (DP-Forward):
    /// the trainer releases each record's privatized representation once, draws its label
    /// by `k`-ary randomized response with `labelEpsilon`, and everything trained on those is
    /// post-processing. `featureEvent` is the per-record mechanism on the representation.
    case forwardPerturbation(featureEvent: DpEvent, labelEpsilon: Double)
}

/// What the trainer tells an adapter before a step so it can allocate noise.
public struct NoiseTarget: Sendable, Hashable {
    /// The segments one privacy unit's gradient can reach. The unit's guarantee is the
    /// Gaussian with σ_eff = (Σ_{g ∈ segments} C_g²/s_g²)^(-1/2) over exactly these.
    public struct Reach: Sendable, Hashable {
        /// The task whose units reach these segments, or nil when any unit may reach them all.
        public let task: String?
        /// Indices into ``NoiseTarget/segments``.
        public let segments: [Int]
    }

    /// The σ the job was planned and charged with: σ_eff over every reach must be at least this.
    public let noiseMultiplier: Double
    /// The manifest's clip C; group-wise clips must satisfy Σ_g C_g² = C².
    public let clip: Double
    /// Every trainable segment, the head's included, in order.
    public let segments: [ParameterSegment]
    /// One reach per task when each unit is one record (its task's segments and the shared
    /// ones); a single reach over every segment when units group records, since the unit
    /// a neighbouring dataset adds may hold records of every task, whatever this dataset's
    /// units hold.
    public let reaches: [Reach]

    /// - Parameter unitsSpanRecords: true under unit-level privacy (`privacy.unit = unit`).
    public init(noiseMultiplier: Double, clip: Double, segments: [ParameterSegment], unitsSpanRecords: Bool = false) {
        self.noiseMultiplier = noiseMultiplier
        self.clip = clip
        self.segments = segments
        let tasks = Set(segments.compactMap(\.task)).sorted()
        if unitsSpanRecords || tasks.isEmpty {
            reaches = [Reach(task: nil, segments: Array(segments.indices))]
        } else {
            reaches = tasks.map { task in
                Reach(task: task, segments: segments.indices.filter { segments[$0].task == nil || segments[$0].task == task })
            }
        }
    }

    /// σ_eff of each reach under `allocation`, in the order of ``reaches``: what the trainer
    /// checks against ``noiseMultiplier``, charging the smallest.
    public func effectiveNoiseMultipliers(of allocation: NoiseAllocation) -> [Double] {
        reaches.map { allocation.effectiveNoiseMultiplier(segments: $0.segments) }
    }
}

/// One job's trainable add-on to a frozen backbone.
///
/// The adapter declares its parameters in the job's ``TrainableParameters``, joins the
/// backbone through hooks that read those values in forward and *add* per-sample
/// gradients in backward, and decides how noise is spread over the segments. It never
/// sees a clipped sum, never adds noise itself and cannot touch the accountant: the
/// trainer owns those, so a faulty strategy can waste utility but not privacy.
public protocol Adapter: AnyObject {
    /// Declares the adapter's segments in `parameters` (before they are sealed).
    func declareParameters(in parameters: TrainableParameters)

    /// Installs the hooks; they read ``TrainableParameters/values(_:)`` and add to
    /// ``TrainableParameters/sampleGradients(_:sample:)`` for each sample of the batch.
    func attach(to backbone: any Backbone, parameters: TrainableParameters)

    /// Removes every hook ``attach(to:parameters:)`` installed.
    func detach(from backbone: any Backbone)

    /// Where the job's privacy comes from.
    var mechanism: PrivacyMechanism { get }

    /// The noise of the next step, from public facts and the statistics the previous step
    /// released (nil before the first). The trainer refuses an allocation whose σ_eff
    /// (overall, and for each task's records) is below `target.noiseMultiplier`.
    func noiseAllocation(target: NoiseTarget, previous: PrivatizedStatistics?) -> NoiseAllocation

    /// The `adapter_config.json` to publish (PEFT's schema where one exists), as a JSON
    /// object's members; `baseModel` names the backbone.
    func exportedConfiguration(baseModel: String) -> [String: ConfigurationValue]

    /// Switches the adapter between training and inference (DP-Forward keeps its noise in
    /// both; most adapters ignore this).
    func setTraining(_ training: Bool)

    /// Adds the gradient of a regularizer of the parameters alone (e.g. λ‖B·A‖²) to the
    /// privatized gradient. The parameters are already released, so this is
    /// post-processing and costs no privacy; it must not read anything else.
    func addRegularizationGradient(parameters: TrainableParameters, into gradient: UnsafeMutableBufferPointer<Float>)
}

extension Adapter {
    public func setTraining(_ training: Bool) {}

    public func addRegularizationGradient(parameters: TrainableParameters, into gradient: UnsafeMutableBufferPointer<Float>) {}

    public func noiseAllocation(target: NoiseTarget, previous: PrivatizedStatistics?) -> NoiseAllocation {
        .uniform(noiseMultiplier: target.noiseMultiplier, clip: target.clip, segmentCount: target.segments.count)
    }
}

/// A JSON value in an exported configuration.
public indirect enum ConfigurationValue: Sendable, Hashable {
    case null
    case boolean(Bool)
    case integer(Int)
    case number(Double)
    case string(String)
    case array([ConfigurationValue])
    case object([String: ConfigurationValue])
}
