// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Foundation
import Transformer

/// DP-LoRA: a low-rank delta `W + (α/r)·B·A` on chosen dense layers, trained by DP-SGD
/// with one flat clip and the same noise on every segment.
///
/// Segments are named by PEFT's state-dict keys (without the adapter name), so the
/// published `adapter_model.safetensors` loads in PEFT, and a PEFT adapter loads here.
final class LoRAStrategy: AdapterStrategy {
    let id = "lora"
    let version = "1.0.0"
    let summary = "DP-LoRA: low-rank A, B (PEFT layout) on attention query and value; flat clip, uniform noise"
    let options: [StrategyOption] = [
        StrategyOption(name: "rank", kind: .integer, defaultJSON: "8", help: "r, the rank of A (r, in) and B (out, r)"),
        StrategyOption(name: "alpha", kind: .number, defaultJSON: "8", help: "lora_alpha; the update is scaled by alpha/rank"),
        StrategyOption(name: "target_modules", kind: .stringList, defaultJSON: "[]",
                       help: "PEFT target_modules (module short names); empty: query,value (BERT), c_attn (GPT-2), q_proj,v_proj (Llama)"),
        StrategyOption(name: "layers", kind: .string, defaultJSON: "\"all\"",
                       help: "the blocks to adapt: \"all\" or comma-separated indices such as \"0,1,5\" (PEFT layers_to_transform)"),
    ]

    /// Used when `target_modules` is empty: the first set whose every name the backbone has.
    static let defaultTargets = [["query", "value"], ["c_attn"], ["q_proj", "v_proj"]]

    func makeAdapter(backbone: any Backbone, configuration: AdapterConfiguration) throws -> any Adapter {
        let options = configuration.options
        let rank = try options.integer("rank"), alpha = try options.number("alpha")
        guard alpha > 0, alpha.isFinite else {
            throw AdapterError(.invalidOption, "lora: alpha must be positive and finite; found \(alpha)")
        }
        let available = Set(backbone.linearSites.map(\.module.shortName))
        var targets = try options.stringList("target_modules")
        if targets.isEmpty {
            guard let family = Self.defaultTargets.first(where: { $0.allSatisfy(available.contains) }) else {
                throw AdapterError(.unsupportedBackbone,
                                   "lora: no default target modules on this backbone; set target_modules to some of \(available.sorted())")
            }
            targets = family
        }
        let unknown = targets.filter { !available.contains($0) }
        guard unknown.isEmpty else {
            throw AdapterError(.invalidOption,
                               "lora: target_modules \(unknown) name no layer of this backbone; available: \(available.sorted().joined(separator: ", "))")
        }
        let layers = try Self.layers(try options.string("layers"), layerCount: backbone.layerCount)
        let sites = backbone.linearSites.filter { targets.contains($0.module.shortName) && (layers?.contains($0.layer) ?? true) }
        let maximumRank = sites.map { min($0.inFeatures, $0.outFeatures) }.min() ?? 0
        guard rank >= 1, rank <= maximumRank else {
            throw AdapterError(.invalidOption, "lora: rank must be in 1...\(maximumRank) for these layers; found \(rank)")
        }
        // The update is scaled by the Float alpha/rank: alpha 1e308 made it infinite, and every step NaN.
        guard alpha / Double(rank) < Double(Float.greatestFiniteMagnitude) else {
            throw AdapterError(.invalidOption, "lora: alpha/rank must be a finite Float, the update's scale; found alpha \(alpha), rank \(rank)")
        }
        let peft = PEFTLoRAConfiguration(
            rank: rank, alpha: alpha, targetModules: targets, layers: layers, baseModel: "",
            taskType: backbone is BertEncoder ? "FEATURE_EXTRACTION" : "CAUSAL_LM",
            fanInFanOut: sites.contains { $0.weightLayout == .inOut })
        return LoRAAdapter(sites: sites, peft: peft)
    }

    /// `"all"` → nil; `"0,2"` → [0, 2], each inside the backbone.
    static func layers(_ text: String, layerCount: Int) throws(AdapterError) -> [Int]? {
        if text.trimmingCharacters(in: .whitespaces) == "all" { return nil }
        var layers: [Int] = []
        for item in text.split(separator: ",") {
            guard let layer = Int(item.trimmingCharacters(in: .whitespaces)), (0..<layerCount).contains(layer) else {
                throw AdapterError(.invalidOption,
                                   "lora: layers must be \"all\" or indices in 0...\(layerCount - 1) separated by commas; found \"\(text)\"")
            }
            if !layers.contains(layer) { layers.append(layer) }
        }
        guard !layers.isEmpty else {
            throw AdapterError(.invalidOption, "lora: layers must name at least one block; found \"\(text)\"")
        }
        return layers.sorted()
    }
}

/// One job's LoRA: a ``LowRankUpdate`` per adapted dense layer.
final class LoRAAdapter: Adapter {
    let sites: [LinearSite]
    let peft: PEFTLoRAConfiguration
    private var updates: [LowRankUpdate] = []

    init(sites: [LinearSite], peft: PEFTLoRAConfiguration) {
        self.sites = sites
        self.peft = peft
    }

    func declareParameters(in parameters: TrainableParameters) {
        precondition(updates.isEmpty, "lora: parameters declared twice")
        updates = sites.map { site in
            let prefix = "base_model.model." + site.parameterName
            return LowRankUpdate(site: site, rank: peft.rank, scale: Float(peft.scale),
                                 down: .trainable(name: prefix + ".lora_A.weight"), upName: prefix + ".lora_B.weight",
                                 parameters: parameters)
        }
    }

    func attach(to backbone: any Backbone, parameters: TrainableParameters) {
        precondition(!updates.isEmpty, "lora: attached before its parameters were declared")
        for update in updates { backbone.setHook(update, for: update.site) }
    }

    func detach(from backbone: any Backbone) {
        for site in sites { backbone.setHook(nil, for: site) }
    }

    var mechanism: PrivacyMechanism { .gradientPerturbation }

    func exportedConfiguration(baseModel: String) -> [String: ConfigurationValue] {
        var peft = peft
        peft.baseModel = baseModel
        return peft.members
    }
}
