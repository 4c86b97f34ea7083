// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Foundation

/// Finds and loads the plugin of one strategy id for a foreground command.
///
/// Only the file whose name matches the id is loaded (`lora` → `libLoRA.so`,
/// `dp-forward` → `libDPForward.so`: letters and digits compared without case), so a
/// broken unrelated plugin in the same directory is never run.
enum StrategyLocator {
    /// The directories searched when none is given: next to the executable (a build
    /// directory) and the installed `../lib/dptune/plugins`.
    static var defaultDirectories: [URL] {
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        return [executable, executable.deletingLastPathComponent().appendingPathComponent("lib/dptune/plugins")]
    }

    static func load(id: String, directories: [URL]) throws -> any AdapterStrategy {
        let key = normalized(id)
        for directory in directories {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
            guard let file = files.first(where: { name in
                name.hasPrefix("lib") && name.hasSuffix(".so") && normalized(String(name.dropFirst(3).dropLast(3))) == key
            }) else { continue }
            let staging = FileManager.default.temporaryDirectory.appendingPathComponent("dptuned-plugins-\(getpid())")
            let loader = try PluginLoader(stagingDirectory: staging)
            let plugin = try loader.load(directory.appendingPathComponent(file))
            guard plugin.strategy.id == id else {
                throw ForegroundFailure.failed("\(file) holds strategy \(plugin.strategy.id), not \(id)")
            }
            return plugin.strategy
        }
        throw ForegroundFailure.failed("no plugin for strategy \(id) in \(directories.map(\.path).joined(separator: ", "))")
    }

    private static func normalized(_ name: String) -> String {
        String(name.lowercased().filter { $0.isLetter || $0.isNumber })
    }
}
