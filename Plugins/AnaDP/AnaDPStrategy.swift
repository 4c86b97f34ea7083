// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Transformer

final class AnaDPStrategy: AdapterStrategy {
    let id = "anadp"
    let version = "0.1.0"
    let summary = "AnaDP-style: low-rank factors, per-segment noise from privatized importance"
    let options: [StrategyOption] = []

    func makeAdapter(backbone: any Backbone, configuration: AdapterConfiguration) throws -> any Adapter {
        throw AdapterError(.unsupportedObjective, "anadp: not built yet")
    }
}
