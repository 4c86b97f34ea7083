// SPDX-License-Identifier: Apache-2.0
// Dimensions: B = batch, T = sequence length, C = hidden width.
import Foundation

/// A frozen transformer whose dense layers and block boundaries accept hooks.
///
/// The verbs follow the training step: `forward` saves what `backward` needs in one
/// activation slab that is reused (and grown only when a batch is larger than any seen).
public protocol Backbone: AnyObject {
    var hiddenSize: Int { get }
    var layerCount: Int { get }
    /// Every frozen parameter, for the trainable share a model card states.
    var parameterCount: Int { get }
    /// Every dense layer, in forward order.
    var linearSites: [LinearSite] { get }
    func setHook(_ hook: (any LinearHook)?, for site: LinearSite)
    /// Every normalization layer, in forward order.
    var normSites: [NormSite] { get }
    func setNormHook(_ hook: (any NormHook)?, for site: NormSite)
    func setHiddenStateHook(_ hook: (any HiddenStateHook)?, atBoundary boundary: Int)

    /// Runs the backbone on a right- or left-padded batch.
    ///
    /// - Parameters:
    ///   - inputIDs: `(B, T)`
    ///   - tokenTypeIDs: `(B, T)` or nil (all zero); ignored by decoders
    ///   - attentionMask: `(B, T)`, 1 for real tokens, 0 for padding
    /// - Returns: the last hidden state `(B, T, C)`, valid until the next `forward`.
    func forward(inputIDs: [Int32], tokenTypeIDs: [Int32]?, attentionMask: [Int32],
                 batch: Int, seqLen: Int) -> UnsafeBufferPointer<Float>

    /// Back-propagates `∂L/∂(last hidden state)` `(B, T, C)` of the last `forward`
    /// through the frozen blocks, calling the hooks. Rows at padding tokens are ignored.
    func backward(lastHiddenGradient: UnsafePointer<Float>)

    /// The frozen weight of `site`, `(OC, IC)` or `(IC, OC)` as `site.weightLayout` says,
    /// valid while the backbone lives; nil for a site that is not this backbone's.
    ///
    /// Added after the first plugin ABI and kept last, so that the requirements before it
    /// keep their order.
    func frozenWeight(of site: LinearSite) -> UnsafeBufferPointer<Float>?
}

/// A backbone that can open a second instance over the same frozen weights.
///
/// The trainer runs a step's chunks on all cores at once, one replica per core with
/// every product on one thread: at the chunk shapes of a DP step one product per core keeps the
/// cores busier than both cores splitting every product and waiting on each other between
/// kernels. A protocol of its own, not a ``Backbone`` requirement, so the protocol that
/// plugins are compiled against keeps its layout.
public protocol ReplicableBackbone: Backbone {
    /// A new instance over the same weights, with its own activations and no hooks.
    func replica() throws -> any Backbone
}

/// A backbone whose positions end somewhere: learned position embeddings or rotary
/// tables of a fixed length. A longer sequence cannot run at all.
///
/// A protocol of its own, not a ``Backbone`` requirement, for the reason
/// ``ReplicableBackbone`` gives.
public protocol ContextLimitedBackbone: Backbone {
    /// The longest sequence, in tokens, a forward pass takes.
    var maxSequenceLength: Int { get }
}

/// The architectures the engine runs, as a model directory's `config.json` names them.
public enum BackboneFamily: String, Sendable, Hashable, CaseIterable {
    case bertEncoder = "bert"
    case gpt2Decoder = "gpt2"
    case llamaDecoder = "llama"

    /// How a data owner's error message names the family.
    public var displayName: String {
        switch self {
        case .bertEncoder: "a BERT encoder"
        case .gpt2Decoder: "a GPT-2 decoder"
        case .llamaDecoder: "a Llama-family decoder"
        }
    }
}

/// The family of the model in `directory`: its `config.json`'s `model_type`, or Llama
/// when it has no `config.json` and one GGUF file. Reads no weights, so the daemon can ask
/// at intake which objectives a backbone can train.
///
/// - Throws: ``ModelLoadingError`` `.badConfig` for a `config.json` that cannot be read or
///   names no `model_type`; `.unsupportedArchitecture` for a `model_type` the engine does not
///   run; `.missingWeight` for neither `config.json` nor one GGUF file.
public func backboneFamily(directory: URL) throws -> BackboneFamily {
    let configURL = directory.appendingPathComponent("config.json")
    guard FileManager.default.fileExists(atPath: configURL.path) else {
        _ = try singleGGUF(in: directory)
        return .llamaDecoder
    }
    struct ModelType: Decodable { let model_type: String }
    let data: Data
    do {
        data = try Data(contentsOf: configURL)
    } catch {
        throw ModelLoadingError(.badConfig, "\(configURL.path): cannot read (\(error.localizedDescription))")
    }
    let type = try ModelConfig.decode(ModelType.self, from: data, url: configURL).model_type
    guard let family = BackboneFamily(rawValue: type) else {
        throw ModelLoadingError(.unsupportedArchitecture, "\(configURL.path): model_type \(type) is not bert, gpt2 or llama")
    }
    return family
}

/// Opens the backbone at `url`: a `.gguf` file (Llama family), or a directory as
/// ``loadBackbone(directory:)`` reads it.
///
/// - Throws: as ``loadBackbone(directory:)``, or ``GGUFError``/``LlamaConfigError`` for a GGUF file.
public func loadBackbone(url: URL) throws -> any Backbone {
    if url.pathExtension.lowercased() == "gguf" {
        return try LlamaModel(ggufPath: url.path)
    }
    return try loadBackbone(directory: url)
}

/// Opens the backbone in a Hugging Face model directory, choosing the family from
/// `config.json`'s `model_type`; a Llama directory may hold one `.gguf` file instead of
/// `model.safetensors`, and a directory without `config.json` must hold exactly one `.gguf`.
///
/// - Throws: ``ModelLoadingError`` or ``SafetensorsError`` naming the bad file or tensor
///   (``GGUFError``, ``LlamaConfigError`` for Llama models).
public func loadBackbone(directory: URL) throws -> any Backbone {
    if try backboneFamily(directory: directory) == .llamaDecoder {
        let hasConfig = FileManager.default.fileExists(atPath: directory.appendingPathComponent("config.json").path)
        return hasConfig ? try LlamaModel(directory: directory) : try LlamaModel(ggufPath: singleGGUF(in: directory).path)
    }
    switch try ModelConfig(directory: directory) {
    case .bert(let config):
        return try BertEncoder(config: config, weights: SafetensorsFile(url: directory.appendingPathComponent("model.safetensors")))
    case .gpt2(let config):
        return try GPT2Model(config: config, weights: SafetensorsFile(url: directory.appendingPathComponent("model.safetensors")))
    }
}
