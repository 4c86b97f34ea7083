// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Transformer

final class DPForwardStrategy: AdapterStrategy {
    let id = "dp-forward"
    let version = "0.1.0"
    let summary = "DP-Forward: analytic-Gaussian noise on each sequence's hidden states, labels by randomized response"
    let options: [StrategyOption] = []

    func makeAdapter(backbone: any Backbone, configuration: AdapterConfiguration) throws -> any Adapter {
        throw AdapterError(.unsupportedObjective, "dp-forward: not built yet")
    }
}
