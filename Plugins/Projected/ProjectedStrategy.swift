// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Transformer

/// `projected` (DESIGN §5.4): per target module ΔW = (alpha/k)·B·A with A a fixed public
/// projection and B trained, noise allocated to minimize the expected distortion.
final class ProjectedStrategy: AdapterStrategy {
    let id = "projected"
    let version = "0.4.0"
    let summary = "Projected: B over a fixed public projection A, group-wise clips, per-task noise allocation"
    let options: [StrategyOption] = [
        StrategyOption(name: "rank", kind: .integer, defaultJSON: "16", help: "k, the rows of the projection A (k × in)"),
        StrategyOption(name: "alpha", kind: .number, defaultJSON: "16", help: "the update is scaled by alpha / k"),
        StrategyOption(name: "target_modules", kind: .stringList, defaultJSON: "[]",
                       help: "dense layers to adapt, by module name; empty: attention query and value (query/value, q_proj/v_proj)"),
        StrategyOption(name: "beta", kind: .number, defaultJSON: "0.9",
                       help: "moving-average factor of the privatized signal estimates, in [0, 1)"),
        StrategyOption(name: "max_change", kind: .number, defaultJSON: "1.5",
                       help: "largest factor by which a segment's noise may change in one step, in [1, 100]"),
        StrategyOption(name: "task_weights", kind: .numberMap, defaultJSON: "{}",
                       help: "importance of each task (in [0.001, 1000]; default 1, normalized to mean 1): noise on a task's segments scales like 1/weight"),
        StrategyOption(name: "l2", kind: .number, defaultJSON: "0", help: "λ1 of the regularizer λ1·‖B·A‖² (non-negative)"),
        StrategyOption(name: "projection", kind: .string, defaultJSON: "\"principal\"",
                       help: "A: principal (the leading right singular vectors of the frozen weight) or random (seeded Gaussian)"),
        StrategyOption(name: "head_clip_share", kind: .number, defaultJSON: "0.5",
                       help: "part of each record's squared clip budget its task head gets, in (0, 1); the B's get the rest"),
    ]

    func makeAdapter(backbone: any Backbone, configuration: AdapterConfiguration) throws -> any Adapter {
        let options = configuration.options
        let beta = try options.number("beta")
        guard beta >= 0, beta < 1 else {
            throw AdapterError(.invalidOption, "strategy option beta must be in [0, 1); found \(beta)")
        }
        let maxChange = try options.number("max_change")
        guard maxChange >= 1, maxChange <= Self.maximumChange else {
            throw AdapterError(.invalidOption, "strategy option max_change must be in [1, \(Int(Self.maximumChange))]; found \(maxChange)")
        }
        let l2 = try options.number("l2")
        guard l2 >= 0, l2.isFinite else {
            throw AdapterError(.invalidOption, "strategy option l2 must be a finite number ≥ 0; found \(l2)")
        }
        let headClipShare = try options.number("head_clip_share")
        guard headClipShare > 0, headClipShare < 1 else {
            throw AdapterError(.invalidOption, "strategy option head_clip_share must be in (0, 1); found \(headClipShare)")
        }
        let projectionName = try options.string("projection")
        guard let projection = Projection(rawValue: projectionName) else {
            throw AdapterError(.invalidOption, "strategy option projection must be one of \(Projection.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")); found \"\(projectionName)\"")
        }
        return try ProjectedAdapter(
            update: LowRankOptions(options: options, backbone: backbone), projection: projection, backbone: backbone,
            seed: configuration.seed, l2: l2,
            allocation: DistortionAllocation(smoothing: beta, maxChange: maxChange,
                                             taskWeights: Self.taskWeights(options.numberMap("task_weights"),
                                                                           tasks: configuration.tasks),
                                             headClipShare: headClipShare))
    }

    /// The largest `max_change`. Past it the limit no longer binds (one 100-fold step reaches
    /// the distortion optimum from the uniform start in `ProjectedPluginTests`), and at 1e155
    /// the limits' squares overflowed and the allocation trapped mid-job, after the charge.
    static let maximumChange = 100.0

    /// The range of a task weight. A segment's noise variance scales like 1/weight², and
    /// weights of 1e-100 or 1e150 overflowed it and trapped mid-job, after the job was charged.
    static let taskWeightRange = 0.001...1000.0

    /// The weights of every task of the job, defaults filled in, normalized to mean 1.
    ///
    /// - Throws: ``AdapterError`` `.invalidOption` for a task the job does not have or a
    ///   weight outside ``taskWeightRange``.
    static func taskWeights(_ given: [String: Double], tasks: [String]) throws(AdapterError) -> [String: Double] {
        for (task, weight) in given.sorted(by: { $0.key < $1.key }) {
            guard tasks.contains(task) else {
                throw AdapterError(.invalidOption, "strategy option task_weights names task \"\(task)\", which the job does not have (tasks: \(tasks.joined(separator: ", ")))")
            }
            guard taskWeightRange.contains(weight) else {
                throw AdapterError(.invalidOption, "strategy option task_weights must be in [\(taskWeightRange.lowerBound), \(taskWeightRange.upperBound)]; found \(weight) for task \"\(task)\"")
            }
        }
        let weights = tasks.map { given[$0] ?? 1 }
        let mean = weights.reduce(0, +) / Double(max(weights.count, 1))
        return Dictionary(zip(tasks, weights.map { $0 / mean }), uniquingKeysWith: { first, _ in first })
    }
}
