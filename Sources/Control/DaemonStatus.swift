// SPDX-License-Identifier: Apache-2.0

/// What `dptunectl status` shows.
public struct DaemonStatus: Sendable, Hashable, Codable {
    public var version: String
    public var uptimeSeconds: Double
    /// Jobs admitted and waiting for a worker.
    public var queueLength: Int
    public var runningJobs: [JobSummary]
    public var ledgerPath: String
    /// Plugins currently loadable for new jobs.
    public var pluginCount: Int

    public init(
        version: String, uptimeSeconds: Double, queueLength: Int, runningJobs: [JobSummary],
        ledgerPath: String, pluginCount: Int
    ) {
        self.version = version
        self.uptimeSeconds = uptimeSeconds
        self.queueLength = queueLength
        self.runningJobs = runningJobs
        self.ledgerPath = ledgerPath
        self.pluginCount = pluginCount
    }

    enum CodingKeys: String, CodingKey {
        case version
        case uptimeSeconds = "uptime_seconds"
        case queueLength = "queue_length"
        case runningJobs = "running_jobs"
        case ledgerPath = "ledger_path"
        case pluginCount = "plugin_count"
    }
}
