// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Transformer

final class LoRAStrategy: AdapterStrategy {
    let id = "lora"
    let version = "0.1.0"
    let summary = "DP-LoRA: low-rank A, B on attention query and value; flat clip, uniform noise"
    let options: [StrategyOption] = []

    func makeAdapter(backbone: any Backbone, configuration: AdapterConfiguration) throws -> any Adapter {
        throw AdapterError(.unsupportedObjective, "lora: not built yet")
    }
}
