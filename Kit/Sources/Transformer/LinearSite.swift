// SPDX-License-Identifier: Apache-2.0

/// Which dense layer inside a transformer block, named by its Hugging Face module path.
///
/// A struct rather than an enum so that a new family adds constants without breaking
/// plugins compiled against the old set. `rawValue` is the module path inside the block
/// (its last component is what PEFT's `target_modules` matches).
public struct LinearModule: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    // BERT
    public static let query = LinearModule(rawValue: "attention.self.query")
    public static let key = LinearModule(rawValue: "attention.self.key")
    public static let value = LinearModule(rawValue: "attention.self.value")
    public static let attentionOutput = LinearModule(rawValue: "attention.output.dense")
    public static let intermediate = LinearModule(rawValue: "intermediate.dense")
    public static let output = LinearModule(rawValue: "output.dense")
    // GPT-2
    public static let qkv = LinearModule(rawValue: "attn.c_attn")
    public static let attnProj = LinearModule(rawValue: "attn.c_proj")
    public static let fc = LinearModule(rawValue: "mlp.c_fc")
    public static let proj = LinearModule(rawValue: "mlp.c_proj")
    // Llama (for the decoder family still to come)
    public static let qProj = LinearModule(rawValue: "self_attn.q_proj")
    public static let kProj = LinearModule(rawValue: "self_attn.k_proj")
    public static let vProj = LinearModule(rawValue: "self_attn.v_proj")
    public static let oProj = LinearModule(rawValue: "self_attn.o_proj")
    public static let gateProj = LinearModule(rawValue: "mlp.gate_proj")
    public static let upProj = LinearModule(rawValue: "mlp.up_proj")
    public static let downProj = LinearModule(rawValue: "mlp.down_proj")

    /// The last path component (`query`, `c_attn`): PEFT's `target_modules` name.
    public var shortName: String { String(rawValue.split(separator: ".").last ?? Substring(rawValue)) }
    public var description: String { rawValue }
}

/// One dense layer of a backbone where an adapter can attach a ``LinearHook``.
public struct LinearSite: Sendable, Hashable, CustomStringConvertible {
    /// The block index, from 0 at the embeddings.
    public let layer: Int
    public let module: LinearModule
    public let inFeatures: Int
    public let outFeatures: Int
    /// How the frozen weight is stored (an adapter exporting a merged delta needs it).
    public let weightLayout: WeightLayout
    /// The checkpoint's name for this layer, e.g. `encoder.layer.3.attention.self.query`
    /// (append `.weight` / `.bias` for the tensors).
    public let parameterName: String

    public init(layer: Int, module: LinearModule, inFeatures: Int, outFeatures: Int,
                weightLayout: WeightLayout, parameterName: String) {
        self.layer = layer
        self.module = module
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.weightLayout = weightLayout
        self.parameterName = parameterName
    }

    public var description: String { parameterName }
}

/// Identifies a dense layer inside a backbone's hook table.
struct HookKey: Hashable {
    let layer: Int
    let module: LinearModule
}
