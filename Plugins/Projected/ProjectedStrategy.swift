// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Transformer

final class ProjectedStrategy: AdapterStrategy {
    let id = "projected"
    let version = "0.1.0"
    let summary = "Projected: B over a public random projection A, group-wise clips, per-task noise allocation"
    let options: [StrategyOption] = []

    func makeAdapter(backbone: any Backbone, configuration: AdapterConfiguration) throws -> any Adapter {
        throw AdapterError(.unsupportedObjective, "projected: not built yet")
    }
}
