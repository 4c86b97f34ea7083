// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Foundation

/// What a probe learned about a plugin file: the JSON line `dptuned plugin probe` prints.
public struct PluginDescription: Codable, Sendable, Equatable {
    public let path: String
    public let id: String
    public let version: String
    public let summary: String
    public let abiVersion: Int32
    public let options: [StrategyOption]
    /// How the strategy's jobs are priced at intake.
    public let mechanism: MechanismKind

    enum CodingKeys: String, CodingKey {
        case path, id, version, summary, options, mechanism
        case abiVersion = "abi_version"
    }

    public init(_ plugin: LoadedPlugin) {
        path = plugin.path
        id = plugin.strategy.id
        version = plugin.strategy.version
        summary = plugin.strategy.summary
        options = plugin.strategy.options
        abiVersion = plugin.abiVersion
        mechanism = plugin.strategy.mechanismKind
    }
}

/// Why a probe refused a plugin file: the JSON line a failed probe prints.
public struct PluginRefusal: Codable, Sendable, Equatable, Error {
    public let path: String
    /// A ``PluginLoadError`` code, or `probe_crashed` / `probe_timed_out` / `probe_failed`
    /// when the child died, hung or misbehaved.
    public let code: String
    public let message: String
}
