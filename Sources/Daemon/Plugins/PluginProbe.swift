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

    /// Thrown when the caller called a probe off (the daemon is stopping): the child was
    /// killed, and the plugin is neither accepted nor refused.
    public struct CalledOff: Error {}

    /// The daemon side: runs `executable plugin probe FILE` and decodes its answer.
    ///
    /// The child is waited for on a thread of its own: a plugin that hangs while loading
    /// holds that thread until the deadline, not one of the cooperative pool's few, which
    /// the control socket and the watchdog share (on one core, the only one).
    ///
    /// - Parameters:
    ///   - executable: the `dptuned` binary (normally this process's own executable).
    ///   - timeout: a plugin that does not answer within this time is refused.
    ///   - callOff: asked while the child runs; once it answers true, the child is killed.
    /// - Returns: the description, or the refusal (a bad plugin never throws).
    /// - Throws: ``CalledOff`` when `callOff` ended the probe.
    public static func probe(file: URL, executable: URL, stagingDirectory: URL, timeout: Duration = .seconds(30),
                             callOff: @escaping @Sendable () -> Bool = { false }) async throws(CalledOff)
        -> Result<PluginDescription, PluginRefusal> {
        let arguments = ["plugin", "probe", "--staging", stagingDirectory.path, file.path]
        let child: ShortLivedChild
        do {
            child = try await onOwnThread {
                try ShortLivedChild(executable: executable, arguments: arguments, timeout: timeout, callOff: callOff)
            }
        } catch is ShortLivedChild.CalledOff {
            throw CalledOff()
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
