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
        let process = Process()
        process.executableURL = executable
        process.arguments = ["plugin", "probe", "--staging", stagingDirectory.path, file.path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        let finished = AsyncStream<Void>.makeStream()
        process.terminationHandler = { _ in finished.continuation.finish() }
        do {
            try process.run()
        } catch {
            return .failure(PluginRefusal(path: file.path, code: "probe_failed", message: "cannot start the probe: \(error)"))
        }
        let timer = Task {
            try await Task.sleep(for: timeout)
            process.terminate()
        }
        let bytes = output.fileHandleForReading.readDataToEndOfFile()
        for await _ in finished.stream {}
        timer.cancel()

        if process.terminationReason == .uncaughtSignal {
            return .failure(PluginRefusal(path: file.path, code: "probe_crashed",
                                          message: "the plugin crashed while loading (signal \(process.terminationStatus))"))
        }
        let decoder = JSONDecoder()
        if let description = try? decoder.decode(PluginDescription.self, from: bytes), process.terminationStatus == 0 {
            return .success(description)
        }
        if let refusal = try? decoder.decode(PluginRefusal.self, from: bytes) {
            return .failure(refusal)
        }
        return .failure(PluginRefusal(path: file.path, code: "probe_failed",
                                      message: "the probe exited with status \(process.terminationStatus) and no answer"))
    }
}
