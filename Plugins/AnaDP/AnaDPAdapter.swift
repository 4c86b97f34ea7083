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
    /// One hook per site, in site order, made when the segments are declared.
    private var hooks: [LowRankUpdate] = []

    init(update: LowRankOptions, allocation: ImportanceAllocation) {
        self.update = update
        self.allocation = allocation
    }

    var mechanism: PrivacyMechanism { .gradientPerturbation }

    func declareParameters(in parameters: TrainableParameters) {
        hooks = update.sites.map { site in
            LowRankUpdate(site: site, rank: update.rank, scale: update.scale,
                          down: .trainable(name: "base_model.model.\(site.parameterName).lora_A.weight"),
                          upName: "base_model.model.\(site.parameterName).lora_B.weight", parameters: parameters)
        }
    }

    func attach(to backbone: any Backbone, parameters: TrainableParameters) {
        for hook in hooks { backbone.setHook(hook, for: hook.site) }
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
