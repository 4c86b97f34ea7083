// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Transformer

final class BiTFiTStrategy: AdapterStrategy {
    let id = "bitfit"
    let version = "0.1.0"
    let summary = "DP-BiTFiT: every bias term and the head; flat clip, uniform noise"
    let options: [StrategyOption] = []

    func makeAdapter(backbone: any Backbone, configuration: AdapterConfiguration) throws -> any Adapter {
        throw AdapterError(.unsupportedObjective, "bitfit: not built yet")
    }
}
