// SPDX-License-Identifier: Apache-2.0
import Transformer

/// An adapter strategy, as a plugin exports it: a factory of adapters plus its identity.
///
/// A plugin's `dptune_plugin_entry()` returns one instance. Strategies are stateless
/// factories, so one instance serves every job that uses its version.
public protocol AdapterStrategy: AnyObject, Sendable {
    /// The id manifests name (`lora`, `bitfit`, …). Unique among loaded plugins.
    var id: String { get }
    /// The strategy's own version (semantic versioning), shown by `dptunectl plugins`
    /// and written into every model card it produces.
    var version: String { get }
    /// One line for operators.
    var summary: String { get }
    /// The options a manifest's `strategy_options` may set.
    var options: [StrategyOption] { get }

    /// How its jobs are priced, which the daemon must know before any plugin code runs for
    /// the job (it charges the ledger at intake).
    var mechanismKind: MechanismKind { get }

    /// A fresh adapter for one job on `backbone`.
    ///
    /// - Throws: ``AdapterError`` when an option is out of range or the backbone or
    ///   objective is not supported, with a message for the data owner.
    func makeAdapter(backbone: any Backbone, configuration: AdapterConfiguration) throws -> any Adapter
}

/// Where a strategy's privacy comes from, as far as pricing a job needs to know.
public enum MechanismKind: String, Sendable, Hashable, Codable {
    /// DP-SGD: the job is the subsampled Gaussian of its ``TrainingPlan``-style plan.
    case gradientPerturbation = "gradient_perturbation"
    /// Each record is released once in the forward pass (``ForwardPerturbationBudget``).
    case forwardPerturbation = "forward_perturbation"
}

extension AdapterStrategy {
    public var mechanismKind: MechanismKind { .gradientPerturbation }
}

/// One option of a strategy, for validation and for `dptunectl plugins`.
public struct StrategyOption: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Hashable, Codable {
        case integer, number, string, boolean, stringList = "string_list", numberMap = "number_map"
    }

    public let name: String
    public let kind: Kind
    /// The default, as JSON text (e.g. `8`, `"query"`, `["query","value"]`).
    public let defaultJSON: String
    public let help: String

    public init(name: String, kind: Kind, defaultJSON: String, help: String) {
        self.name = name
        self.kind = kind
        self.defaultJSON = defaultJSON
        self.help = help
    }
}

/// What plugins use to hand their strategy across the C entry point.
public enum PluginExport {
    /// A +1 reference to `strategy` as an opaque pointer, for `dptune_plugin_entry()`.
    public static func retain(_ strategy: some AdapterStrategy) -> UnsafeMutableRawPointer {
        Unmanaged.passRetained(strategy as AnyObject).toOpaque()
    }
}
