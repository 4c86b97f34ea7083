// SPDX-License-Identifier: Apache-2.0
import Foundation

/// The part of a Hugging Face PEFT LoRA `adapter_config.json` that decides what the
/// adapter computes, in both directions: dptune publishes it, and reads it to run an
/// adapter trained elsewhere (the tensors then load by name, see
/// ``TrainableParameters/load(from:)``).
///
/// Reading refuses every PEFT feature whose result dptune's LoRA would not reproduce
/// (DoRA, rsLoRA scaling, per-module rank or alpha patterns, trained biases, regex
/// targets, excluded modules) rather than run a different model than the one trained.
public struct PEFTLoRAConfiguration: Sendable, Hashable {
    public var rank: Int
    public var alpha: Double
    /// PEFT `target_modules`: module short names (`query`, `c_attn`, `q_proj`).
    public var targetModules: [String]
    /// PEFT `layers_to_transform`: nil for every layer.
    public var layers: [Int]?
    public var baseModel: String
    /// `FEATURE_EXTRACTION` for an encoder, `CAUSAL_LM` for a decoder; nil if unknown.
    public var taskType: String?
    /// True when the frozen weights are stored `(IC, OC)` (GPT-2's Conv1D): PEFT sets it so.
    public var fanInFanOut: Bool

    public init(rank: Int, alpha: Double, targetModules: [String], layers: [Int]?, baseModel: String,
                taskType: String?, fanInFanOut: Bool) {
        self.rank = rank
        self.alpha = alpha
        self.targetModules = targetModules
        self.layers = layers
        self.baseModel = baseModel
        self.taskType = taskType
        self.fanInFanOut = fanInFanOut
    }

    /// PEFT's scaling `lora_alpha / r`.
    public var scale: Double { alpha / Double(rank) }

    /// Parses an `adapter_config.json`.
    ///
    /// - Throws: ``AdapterError`` `.incompatibleParameters` when the text is not a LoRA
    ///   configuration or asks for a feature dptune does not reproduce, naming it.
    public init(json: Data) throws(AdapterError) {
        let file: ConfigFile
        do {
            file = try JSONDecoder().decode(ConfigFile.self, from: json)
        } catch {
            throw AdapterError(.incompatibleParameters, "adapter_config.json is not a PEFT LoRA configuration: \(error)")
        }
        var refused: [String] = []
        if file.peftType != "LORA" { refused.append("peft_type \(file.peftType.map { "\"\($0)\"" } ?? "missing") (only LORA)") }
        if file.useDora == true { refused.append("use_dora true") }
        if file.useRslora == true { refused.append("use_rslora true") }
        if let bias = file.bias, bias != "none" { refused.append("bias \"\(bias)\" (only \"none\")") }
        if file.loraBias == true { refused.append("lora_bias true") }
        if !(file.rankPattern ?? [:]).isEmpty { refused.append("a rank_pattern") }
        if !(file.alphaPattern ?? [:]).isEmpty { refused.append("an alpha_pattern") }
        if case .pattern(let pattern)? = file.targetModules { refused.append("target_modules as a pattern \"\(pattern)\"") }
        if file.excludeModules != nil { refused.append("exclude_modules") }
        if file.r < 1 { refused.append("r \(file.r)") }
        guard refused.isEmpty else {
            throw AdapterError(.incompatibleParameters, "adapter_config.json: unsupported \(refused.joined(separator: ", "))")
        }
        guard case .names(let names)? = file.targetModules, !names.isEmpty else {
            throw AdapterError(.incompatibleParameters, "adapter_config.json: target_modules is missing or empty")
        }
        self.init(rank: file.r, alpha: file.loraAlpha, targetModules: names, layers: file.layersToTransform?.layers,
                  baseModel: file.baseModel ?? "", taskType: file.taskType, fanInFanOut: file.fanInFanOut ?? false)
    }

    /// The `strategy_options` that make the `lora` strategy build this adapter.
    public var strategyOptionsJSON: String {
        var object: [String: Any] = ["rank": rank, "alpha": alpha, "target_modules": targetModules]
        if let layers { object["layers"] = layers.map(String.init).joined(separator: ",") }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    /// The members of the `adapter_config.json` to publish: PEFT's schema with the values
    /// that describe plain LoRA.
    public var members: [String: ConfigurationValue] {
        [
            "peft_type": .string("LORA"),
            "task_type": taskType.map(ConfigurationValue.string) ?? .null,
            "r": .integer(rank),
            "lora_alpha": Int(exactly: alpha).map(ConfigurationValue.integer) ?? .number(alpha),
            "lora_dropout": .number(0),
            "target_modules": .array(targetModules.map(ConfigurationValue.string)),
            "bias": .string("none"),
            "fan_in_fan_out": .boolean(fanInFanOut),
            "init_lora_weights": .boolean(true),
            "inference_mode": .boolean(true),
            "base_model_name_or_path": .string(baseModel),
            "modules_to_save": .null,
            "layers_to_transform": layers.map { .array($0.map(ConfigurationValue.integer)) } ?? .null,
            "use_rslora": .boolean(false),
            "use_dora": .boolean(false),
            "revision": .null,
        ]
    }

    /// `adapter_config.json` as PEFT writes it (only the members read here).
    private struct ConfigFile: Decodable {
        enum TargetModules: Decodable {
            case names([String]), pattern(String)
            init(from decoder: Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let pattern = try? container.decode(String.self) { self = .pattern(pattern) }
                else { self = .names(try container.decode([String].self)) }
            }
        }

        /// PEFT accepts one layer index or a list.
        struct Layers: Decodable {
            let layers: [Int]
            init(from decoder: Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let layer = try? container.decode(Int.self) { layers = [layer] }
                else { layers = try container.decode([Int].self) }
            }
        }

        let peftType: String?
        let r: Int
        let loraAlpha: Double
        let targetModules: TargetModules?
        let excludeModules: TargetModules?
        let layersToTransform: Layers?
        let bias: String?
        let loraBias: Bool?
        let useDora: Bool?
        let useRslora: Bool?
        let rankPattern: [String: Double]?
        let alphaPattern: [String: Double]?
        let baseModel: String?
        let taskType: String?
        let fanInFanOut: Bool?

        enum CodingKeys: String, CodingKey {
            case peftType = "peft_type", r, loraAlpha = "lora_alpha", targetModules = "target_modules"
            case excludeModules = "exclude_modules", layersToTransform = "layers_to_transform", bias
            case loraBias = "lora_bias", useDora = "use_dora"
            case useRslora = "use_rslora", rankPattern = "rank_pattern", alphaPattern = "alpha_pattern"
            case baseModel = "base_model_name_or_path", taskType = "task_type", fanInFanOut = "fan_in_fan_out"
        }
    }
}
