// SPDX-License-Identifier: Apache-2.0
@testable import Daemon
import Foundation
import Glibc
import Testing
import TestSupport

/// The plugin directory's watch outlives the folder it was set on.
@Suite struct PluginDirectoryWatchTests {
    private let root = FileManager.default.temporaryDirectory.appendingPathComponent("plugin-watch-\(UUID().uuidString)")
    private var pluginDirectory: URL { root.appendingPathComponent("plugins") }

    private func registry() throws -> PluginRegistry {
        try PluginRegistry(pluginDirectory: pluginDirectory, stateDirectory: root.appendingPathComponent("state"),
                           probeExecutable: BuildProducts.executable("dptuned"))
    }

    private func install(_ library: String, as name: String) throws {
        let staged = root.appendingPathComponent(".\(name).tmp")
        try? FileManager.default.removeItem(at: staged)
        try FileManager.default.copyItem(at: BuildProducts.library(library), to: staged)
        #expect(rename(staged.path, pluginDirectory.appendingPathComponent(name).path) == 0)
    }

    /// Polls `registry` for up to ten seconds until `condition` holds.
    private func eventually(_ registry: PluginRegistry, _ condition: @escaping @Sendable ([PluginRegistry.Listing]) -> Bool) async -> Bool {
        for _ in 0..<200 {
            if condition(await registry.listing()) { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    /// The folder swapped for a new one (`mv plugins plugins.old; mkdir plugins`): builds
    /// dropped into and removed from the new folder are seen without a reload. Before, the
    /// watch stayed on the old folder.
    @Test func aSwappedFolderIsWatchedAgain() async throws {
        try FileManager.default.createDirectory(at: pluginDirectory, withIntermediateDirectories: true)
        let registry = try registry()
        let watch = PluginDirectoryWatch(directory: pluginDirectory, registry: registry, logger: DaemonFixture.logger)
        let following = Task { await watch.run() }
        try install("EchoV1", as: "libecho.so")
        #expect(await eventually(registry) { $0.contains { $0.version == "1.0.0" && $0.state == .current } })

        #expect(rename(pluginDirectory.path, root.appendingPathComponent("plugins.old").path) == 0)
        try FileManager.default.createDirectory(at: pluginDirectory, withIntermediateDirectories: false)
        try install("EchoV2", as: "libecho.so")
        #expect(await eventually(registry) { $0.contains { $0.version == "2.0.0" && $0.state == .current } })
        try FileManager.default.removeItem(at: pluginDirectory.appendingPathComponent("libecho.so"))
        #expect(await eventually(registry) { $0.contains { $0.version == "2.0.0" && $0.state == .withdrawn } })

        watch.close()
        await following.value
    }

    /// A folder missing at start-up is watched once it appears.
    @Test func aFolderMissingAtStartIsWatchedOnceItAppears() async throws {
        let registry = try registry()
        let watch = PluginDirectoryWatch(directory: pluginDirectory, registry: registry, logger: DaemonFixture.logger)
        let following = Task { await watch.run() }
        try FileManager.default.createDirectory(at: pluginDirectory, withIntermediateDirectories: true)
        try install("EchoV1", as: "libecho.so")
        #expect(await eventually(registry) { $0.contains { $0.id == "echo" && $0.state == .current } })
        watch.close()
        await following.value
    }
}
