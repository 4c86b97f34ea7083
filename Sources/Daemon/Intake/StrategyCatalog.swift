// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Foundation

/// The strategies new jobs may use now, and what intake must know to price and check their
/// jobs without loading a plugin into the daemon.
public struct StrategyCatalog: Sendable, Hashable, ExpressibleByArrayLiteral {
    public var ids: Set<String>
    /// Forward-perturbation strategies, with the default label share of ε their options declare.
    public var forwardLabelShares: [String: Double]
    /// Each strategy's declared options, so that a manifest's `strategy_options` is checked
    /// before its charge is made; a strategy missing here is left to the worker.
    public var optionSchemas: [String: [StrategyOption]]

    public init(ids: Set<String>, forwardLabelShares: [String: Double] = [:],
                optionSchemas: [String: [StrategyOption]] = [:]) {
        self.ids = ids
        self.forwardLabelShares = forwardLabelShares
        self.optionSchemas = optionSchemas
    }

    public init(arrayLiteral ids: String...) {
        self.init(ids: Set(ids))
    }

    /// The catalog of the registry's current plugin versions.
    public init(_ descriptions: [PluginDescription]) {
        var shares: [String: Double] = [:]
        for description in descriptions where description.mechanism == .forwardPerturbation {
            let option = description.options.first { $0.name == ForwardPerturbationBudget.labelShareOption }
            shares[description.id] = option.flatMap { Double($0.defaultJSON.trimmingCharacters(in: .whitespaces)) } ?? .nan
        }
        self.init(ids: Set(descriptions.map(\.id)), forwardLabelShares: shares,
                  optionSchemas: Dictionary(descriptions.map { ($0.id, $0.options) }, uniquingKeysWith: { first, _ in first }))
    }
}
