// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Transformer

/// `anadp`: LoRA-style low-rank factors whose noise follows privatized importance.
final class AnaDPStrategy: AdapterStrategy {
    let id = "anadp"
    let version = "0.2.0"
    let summary = "AnaDP-style: low-rank factors, per-segment noise from privatized importance"
    let options: [StrategyOption] = [
        StrategyOption(name: "rank", kind: .integer, defaultJSON: "8", help: "rank r of A (r × in) and B (out × r)"),
        StrategyOption(name: "alpha", kind: .number, defaultJSON: "8", help: "the update is scaled by alpha / r"),
        StrategyOption(name: "target_modules", kind: .stringList, defaultJSON: "[]",
                       help: "dense layers to adapt, by module name; empty: attention query and value (query/value, q_proj/v_proj)"),
        StrategyOption(name: "beta", kind: .number, defaultJSON: "0.9",
                       help: "moving-average factor of the privatized sensitivity and uncertainty, in (0, 1)"),
        StrategyOption(name: "min_share", kind: .number, defaultJSON: "0.5",
                       help: "part of the precision budget spread uniformly, in (0, 1]; no segment gets more noise than σC/√min_share"),
    ]

    func makeAdapter(backbone: any Backbone, configuration: AdapterConfiguration) throws -> any Adapter {
        let options = configuration.options
        let beta = try options.number("beta")
        guard beta > 0, beta < 1 else {
            throw AdapterError(.invalidOption, "strategy option beta must be in (0, 1); found \(beta)")
        }
        let minShare = try options.number("min_share")
        guard minShare > 0, minShare <= 1 else {
            throw AdapterError(.invalidOption, "strategy option min_share must be in (0, 1]; found \(minShare)")
        }
        return try AnaDPAdapter(
            update: LowRankOptions(options: options, backbone: backbone),
            allocation: ImportanceAllocation(smoothing: beta, minShare: minShare))
    }
}
