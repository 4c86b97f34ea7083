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
    /// The stored build of each strategy's current version, which the preflight loads; a
    /// strategy missing here is not prepared before admission.
    public var pluginFiles: [String: URL]
    /// Strategies withdrawn from new jobs, with the plugin file whose removal withdrew them,
    /// so that a dataset asking for one is told why it is not offered.
    public var withdrawnFiles: [String: String] = [:]

    public init(ids: Set<String>, forwardLabelShares: [String: Double] = [:],
                optionSchemas: [String: [StrategyOption]] = [:], pluginFiles: [String: URL] = [:]) {
        self.ids = ids
        self.forwardLabelShares = forwardLabelShares
        self.optionSchemas = optionSchemas
        self.pluginFiles = pluginFiles
    }

    public init(arrayLiteral ids: String...) {
        self.init(ids: Set(ids))
    }

    /// The catalog of the registry's current plugin versions.
    public init(_ versions: [PluginRegistry.Version]) {
        let descriptions = versions.map(\.description)
        var shares: [String: Double] = [:]
        for description in descriptions where description.mechanism == .forwardPerturbation {
            shares[description.id] = Self.defaultLabelShare(declaredIn: description.options)
        }
        self.init(ids: Set(descriptions.map(\.id)), forwardLabelShares: shares,
                  optionSchemas: Dictionary(descriptions.map { ($0.id, $0.options) }, uniquingKeysWith: { first, _ in first }),
                  pluginFiles: Dictionary(versions.map { ($0.description.id, $0.storedFile) }, uniquingKeysWith: { first, _ in first }))
    }

    /// The label share of ε a forward-perturbation strategy's options declare by default;
    /// NaN when they declare none, which no admission can price.
    static func defaultLabelShare(declaredIn options: [StrategyOption]) -> Double {
        let option = options.first { $0.name == ForwardPerturbationBudget.labelShareOption }
        return option.flatMap { Double($0.defaultJSON.trimmingCharacters(in: .whitespaces)) } ?? .nan
    }
}
