// SPDX-License-Identifier: Apache-2.0
import Foundation

/// Whether a plugin build serves new jobs.
public enum PluginState: String, Sendable, Hashable, Codable, CaseIterable {
    /// The build new jobs of this strategy use.
    case current
    /// Replaced by a newer build; listed while jobs still run on it.
    case retired
    /// Its file no longer provides it (removed or replaced): no new job takes it; jobs admitted
    /// before run on it.
    case withdrawn
    /// Probed and refused (the reason says why).
    case refused
}

/// One plugin build, as `dptunectl plugins` shows it.
public struct PluginSummary: Sendable, Hashable, Codable {
    public var id: String
    public var version: String
    public var file: String
    public var loadedAt: Date
    public var state: PluginState
    public var reason: String?
    /// Ids of the jobs running on this build.
    public var jobs: [String]

    public init(
        id: String, version: String, file: String, loadedAt: Date, state: PluginState,
        reason: String? = nil, jobs: [String] = []
    ) {
        self.id = id
        self.version = version
        self.file = file
        self.loadedAt = loadedAt
        self.state = state
        self.reason = reason
        self.jobs = jobs
    }

    enum CodingKeys: String, CodingKey {
        case id, version, file, state, reason, jobs
        case loadedAt = "loaded_at"
    }
}
