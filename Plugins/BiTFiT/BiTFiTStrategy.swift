// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Transformer

/// DP-BiTFiT: trains a shift of every bias of the backbone (each dense layer's and each
/// layer norm's), by DP-SGD with one flat clip and the same noise on every segment.
///
/// Segments are named `<layer>.bias` after the checkpoint tensors they shift, so adding
/// each to its frozen bias gives a fine-tuned checkpoint.
final class BiTFiTStrategy: AdapterStrategy {
    let id = "bitfit"
    let version = "1.0.0"
    let summary = "DP-BiTFiT: every bias term of the backbone (dense layers and layer norms); flat clip, uniform noise"
    let options: [StrategyOption] = []

    func makeAdapter(backbone: any Backbone, configuration: AdapterConfiguration) throws -> any Adapter {
        // Only these families are known to carry a bias on every dense layer and norm;
        // Llama has none, and a site list alone cannot tell.
        guard backbone is BertEncoder || backbone is GPT2Model else {
            throw AdapterError(.unsupportedBackbone, "bitfit needs bias terms; \(type(of: backbone)) has none")
        }
        return BiTFiTAdapter(linearSites: backbone.linearSites, normSites: backbone.normSites)
    }
}

/// One job's BiTFiT: a ``BiasUpdate`` per dense layer and per layer norm.
final class BiTFiTAdapter: Adapter {
    let linearSites: [LinearSite]
    let normSites: [NormSite]
    private var linearUpdates: [BiasUpdate] = []
    private var normUpdates: [BiasUpdate] = []

    init(linearSites: [LinearSite], normSites: [NormSite]) {
        self.linearSites = linearSites
        self.normSites = normSites
    }

    func declareParameters(in parameters: TrainableParameters) {
        precondition(linearUpdates.isEmpty && normUpdates.isEmpty, "bitfit: parameters declared twice")
        linearUpdates = linearSites.map {
            BiasUpdate(name: $0.parameterName + ".bias", width: $0.outFeatures, parameters: parameters)
        }
        normUpdates = normSites.map { BiasUpdate(name: $0.parameterName + ".bias", width: $0.width, parameters: parameters) }
    }

    func attach(to backbone: any Backbone, parameters: TrainableParameters) {
        precondition(linearUpdates.count == linearSites.count, "bitfit: attached before its parameters were declared")
        for (site, update) in zip(linearSites, linearUpdates) { backbone.setHook(update, for: site) }
        for (site, update) in zip(normSites, normUpdates) { backbone.setNormHook(update, for: site) }
    }

    func detach(from backbone: any Backbone) {
        for site in linearSites { backbone.setHook(nil, for: site) }
        for site in normSites { backbone.setNormHook(nil, for: site) }
    }

    var mechanism: PrivacyMechanism { .gradientPerturbation }

    func exportedConfiguration(baseModel: String) -> [String: ConfigurationValue] {
        [
            "adapter_type": .string("bitfit"),
            "base_model_name_or_path": .string(baseModel),
            "bias_tensors": .array((linearSites.map(\.parameterName) + normSites.map(\.parameterName))
                .map { .string($0 + ".bias") }),
        ]
    }
}
