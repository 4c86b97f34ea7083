// SPDX-License-Identifier: Apache-2.0
import Foundation

/// Where a child process of the daemon (a job's worker, a preflight) reads the daemon's
/// config: a copy of the text the daemon started with, in its state directory, read as if
/// it were the original file (relative paths resolve against the original's directory).
///
/// The children used to read the config file itself, which an operator may edit, or break,
/// while the daemon runs: a job admitted and charged under one config then failed, or ran,
/// under another. Edits now take effect at the daemon's next start, for it and its children
/// alike.
public struct ChildConfig: Sendable, Hashable {
    /// The config file the daemon was started with.
    public let original: URL
    /// The daemon's copy of its text; nil reads the original (a child started by hand).
    public let copy: URL?

    public init(original: URL, copy: URL?) {
        self.original = original
        self.copy = copy
    }

    /// Writes `config`'s text to its state directory, replacing the copy of an earlier start.
    ///
    /// - Throws: a file-system error; the daemon refuses to start without the copy.
    public static func writeCopy(of config: DaemonConfig, original: URL) throws -> ChildConfig {
        let copy = config.paths.stateDirectory.appendingPathComponent("running-config.toml")
        try FileManager.default.createDirectory(at: config.paths.stateDirectory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        try Data(config.source.utf8).write(to: copy, options: .atomic)
        return ChildConfig(original: original, copy: copy)
    }

    /// The arguments that name it on a child's command line.
    var arguments: [String] {
        ["--daemon-config", original.path] + (copy.map { ["--config-copy", $0.path] } ?? [])
    }

    /// The child side: the config the daemon runs under.
    ///
    /// - Throws: ``DaemonConfigError`` `.unreadable` or `.invalid`.
    public func read() throws(DaemonConfigError) -> DaemonConfig {
        try DaemonConfig(contentsOf: copy ?? original, standingFor: original)
    }
}
