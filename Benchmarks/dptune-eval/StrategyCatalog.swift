// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Foundation

/// The strategies under evaluation, loaded once each from the plugin directory.
///
/// A plugin is found by its file name (`dp-forward` → `libDPForward.so`: letters and
/// digits compared without case), as `dptuned train` finds it. A strategy that cannot be
/// loaded is remembered with its error, so its table cells say why and the others still run.
final class StrategyCatalog {
    private let directory: URL
    private let loader: PluginLoader
    private var strategies: [String: Result<any AdapterStrategy, EvaluationFailure>] = [:]

    /// The directory of this executable: `swift build` puts the plugins next to it.
    static var buildDirectory: URL {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
    }

    init(directory: URL) throws {
        self.directory = directory
        loader = try PluginLoader(stagingDirectory: FileManager.default.temporaryDirectory
            .appendingPathComponent("dptune-eval-plugins-\(getpid())"))
    }

    func strategy(_ id: String) -> Result<any AdapterStrategy, EvaluationFailure> {
        if let known = strategies[id] { return known }
        let result = Result { () throws(EvaluationFailure) -> any AdapterStrategy in try load(id) }
        strategies[id] = result
        return result
    }

    private func load(_ id: String) throws(EvaluationFailure) -> any AdapterStrategy {
        let key = Self.normalized(id)
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        guard let file = files.first(where: { name in
            name.hasPrefix("lib") && name.hasSuffix(".so") && Self.normalized(String(name.dropFirst(3).dropLast(3))) == key
        }) else {
            throw EvaluationFailure("no plugin for \(id) in \(directory.path)")
        }
        do {
            let plugin = try loader.load(directory.appendingPathComponent(file))
            guard plugin.strategy.id == id else { throw EvaluationFailure("\(file) holds \(plugin.strategy.id), not \(id)") }
            return plugin.strategy
        } catch let failure as EvaluationFailure {
            throw failure
        } catch {
            throw EvaluationFailure("\(error)")
        }
    }

    private static func normalized(_ name: String) -> String {
        String(name.lowercased().filter { $0.isLetter || $0.isNumber })
    }
}

/// Why one cell of the evaluation has no number: shown in the table instead of it.
struct EvaluationFailure: Error, Sendable, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
