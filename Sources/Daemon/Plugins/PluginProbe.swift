// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Foundation

/// Loads a plugin file in a short-lived child process and reports what it is.
///
/// A plugin runs code as soon as it is mapped (static initializers), and a Swift plugin
/// can never be unloaded. Probing in a child means a plugin that crashes, hangs or is
/// refused costs the daemon nothing (DESIGN §5.3).
public enum PluginProbe {
    /// The child side: loads `file` in this process and prints one JSON line.
    ///
    /// - Returns: the process exit status: 0 for a valid plugin, 1 for a refused one.
    public static func runInChild(file: URL, stagingDirectory: URL) -> Int32 {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let line: Data
        let status: Int32
        do {
            let plugin = try PluginLoader(stagingDirectory: stagingDirectory).load(file)
            line = try encoder.encode(PluginDescription(plugin))
            status = 0
        } catch let error as PluginLoadError {
            line = (try? encoder.encode(PluginRefusal(path: file.path, code: error.code.description, message: error.message))) ?? Data()
            status = 1
        } catch {
            line = (try? encoder.encode(PluginRefusal(path: file.path, code: "probe_failed", message: "\(error)"))) ?? Data()
            status = 1
        }
        FileHandle.standardOutput.write(line + Data("\n".utf8))
        return status
    }

    /// The daemon side: runs `executable plugin probe FILE` and decodes its answer.
    ///
    /// - Parameters:
    ///   - executable: the `dptuned` binary (normally this process's own executable).
    ///   - timeout: a plugin that does not answer within this time is refused.
    /// - Returns: the description, or the refusal (never throws for a bad plugin).
    public static func probe(file: URL, executable: URL, stagingDirectory: URL,
                             timeout: Duration = .seconds(30)) async -> Result<PluginDescription, PluginRefusal> {
        let child: ShortLivedChild
        do {
            child = try ShortLivedChild(executable: executable,
                                        arguments: ["plugin", "probe", "--staging", stagingDirectory.path, file.path],
                                        timeout: timeout)
        } catch {
            return .failure(PluginRefusal(path: file.path, code: "probe_failed", message: "cannot start the probe: \(error)"))
        }
        let status: Int32
        switch child.end {
        case .timedOut:
            return .failure(PluginRefusal(path: file.path, code: "probe_timed_out",
                                          message: "the plugin did not finish loading within \(timeout)"))
        case .killedBySignal(let signal):
            return .failure(PluginRefusal(path: file.path, code: "probe_crashed",
                                          message: "the plugin crashed while loading (signal \(signal))"))
        case .exited(let code):
            status = code
        }
        let decoder = JSONDecoder()
        if let description = try? decoder.decode(PluginDescription.self, from: child.lastLine), status == 0 {
            return .success(description)
        }
        if let refusal = try? decoder.decode(PluginRefusal.self, from: child.lastLine) {
            return .failure(refusal)
        }
        return .failure(PluginRefusal(path: file.path, code: "probe_failed",
                                      message: "the probe exited with status \(status) and no answer"))
    }
}
