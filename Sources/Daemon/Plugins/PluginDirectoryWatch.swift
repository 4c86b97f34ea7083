// SPDX-License-Identifier: Apache-2.0
import Foundation
import Logging
import Spool
import Synchronization

/// Keeps the registry told of what happens in the plugin directory: a file that arrives is
/// probed, one that leaves (and a kernel queue overflow) makes it rescan.
///
/// An inotify watch dies with the folder it was set on: a deployment that swaps the whole
/// plugin folder (`mv plugins plugins.old; mkdir plugins`) left the daemon watching the old
/// one, so a build removed from the new folder stayed current until a reload. So when the
/// watch ends, it is set again on whatever folder the path names then, once a second until
/// one exists (a folder missing at start-up is waited for the same way), and the registry
/// rescans it.
final class PluginDirectoryWatch: Sendable {
    private let directory: URL
    private let registry: PluginRegistry
    private let logger: Logger
    private let state: Mutex<(watcher: SpoolWatcher?, closed: Bool)>

    /// Sets the watch at once, so that a build dropped in right after the daemon is ready
    /// is seen.
    init(directory: URL, registry: PluginRegistry, logger: Logger) {
        self.directory = directory
        self.registry = registry
        self.logger = logger
        state = Mutex((try? SpoolWatcher(directory: directory, departures: true), false))
    }

    /// Follows the directory until ``close()``.
    func run() async {
        var lost = state.withLock { $0.watcher } == nil
        if lost {
            logger.warning("plugin directory not watched yet; watching for it once a second, and new plugins load on SIGHUP or `dptunectl plugins reload`",
                           metadata: ["dptune.plugins": "\(directory.path)"])
        }
        while !state.withLock({ $0.closed }) {
            guard let watcher = currentOrNewWatcher() else {
                try? await Task.sleep(for: .seconds(1))
                continue
            }
            if lost {
                logger.notice("plugin directory watched; rescanning it", metadata: ["dptune.plugins": "\(directory.path)"])
                await registry.scan()
                lost = false
            }
            for await event in watcher.events {
                switch event {
                case .arrived(let name) where name.hasSuffix(".so"):
                    await registry.fileChanged(directory.appendingPathComponent(name))
                case .departed(let name) where name.hasSuffix(".so"):
                    // A rescan withdraws a current build whose file is gone.
                    await registry.scan()
                case .overflow:
                    await registry.scan()
                case .arrived, .departed, .undecodableName:
                    continue
                }
            }
            let closed = state.withLock { state in
                if state.watcher === watcher { state.watcher = nil }
                return state.closed
            }
            if !closed {
                lost = true
                logger.notice("the plugin directory was moved or deleted; watching its path again",
                              metadata: ["dptune.plugins": "\(directory.path)"])
            }
        }
    }

    /// Stops watching; ``run()`` returns.
    func close() {
        let watcher = state.withLock { state in
            state.closed = true
            return state.watcher
        }
        watcher?.close()
    }

    /// The watch set before, or a new one if the folder exists now; nil when it does not,
    /// or when the watch is closed.
    private func currentOrNewWatcher() -> SpoolWatcher? {
        if let existing = state.withLock({ $0.watcher }) { return existing }
        guard let fresh = try? SpoolWatcher(directory: directory, departures: true) else { return nil }
        let kept = state.withLock { state in
            guard !state.closed else { return false }
            state.watcher = fresh
            return true
        }
        if !kept { fresh.close() }
        return kept ? fresh : nil
    }
}
