// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Transformer

/// LoRA factors on the target modules, with noise allocated by ``ImportanceAllocation``.
///
/// The factors are the PEFT ones, so the published adapter loads as a LoRA adapter: A
/// `(r, in)` starts Kaiming-uniform, B `(out, r)` at zero, ΔW = (alpha/r)·B·A.
final class AnaDPAdapter: Adapter {
    private let update: LowRankOptions
    private var allocation: ImportanceAllocation
    /// The A and B segment of each site, in site order, once declared.
    private var factors: [(a: Int, b: Int)] = []

    init(update: LowRankOptions, allocation: ImportanceAllocation) {
        self.update = update
        self.allocation = allocation
    }

    var mechanism: PrivacyMechanism { .gradientPerturbation }

    func declareParameters(in parameters: TrainableParameters) {
        factors = update.sites.map { site in
            let a = parameters.addSegment(name: "base_model.model.\(site.parameterName).lora_A.weight",
                                          shape: [update.rank, site.inFeatures],
                                          initialization: .uniform(bound: 1 / Float(site.inFeatures).squareRoot()))
            let b = parameters.addSegment(name: "base_model.model.\(site.parameterName).lora_B.weight",
                                          shape: [site.outFeatures, update.rank])
            return (a, b)
        }
    }

    func attach(to backbone: any Backbone, parameters: TrainableParameters) {
        for (site, factor) in zip(update.sites, factors) {
            _ = (site, 0)
        }
    }

    func detach(from backbone: any Backbone) {
        for site in update.sites { backbone.setHook(nil, for: site) }
    }

    func noiseAllocation(target: NoiseTarget, previous: PrivatizedStatistics?) -> NoiseAllocation {
        allocation.allocation(target: target, previous: previous)
    }

    func exportedConfiguration(baseModel: String) -> [String: ConfigurationValue] {
        [
            "peft_type": .string("LORA"),
            "base_model_name_or_path": .string(baseModel),
            "r": .integer(update.rank),
            "lora_alpha": .number(update.alpha),
            "lora_dropout": .number(0),
            "bias": .string("none"),
            "fan_in_fan_out": .boolean(update.sites.first?.weightLayout == .inOut),
            "inference_mode": .boolean(true),
            "target_modules": .array(update.moduleNames.map { .string($0) }),
            "dptune_strategy": .string("anadp"),
            "dptune_noise_allocation": .object([
                "beta": .number(allocation.smoothing), "min_share": .number(allocation.minShare),
            ]),
        ]
    }
}
