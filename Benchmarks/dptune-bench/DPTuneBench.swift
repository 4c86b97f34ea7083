// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import ArgumentParser
import Foundation

/// Measurements of this machine, printed as a table (not run by `swift test`).
///
/// Run optimized: `swift run -c release dptune-bench <what>`.
struct DPTuneBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dptune-bench",
        abstract: "Speed and learning measurements: SGEMM, the backbone, privacy accounting and noise; DP-LoRA on SST-2 (MiniLM) and on chat records (SmolLM2).",
        subcommands: [GEMMBenchmark.self, BackboneBenchmark.self, PrivacyBenchmark.self, SentimentBenchmark.self,
                      GenerationBenchmark.self])
}

/// The bundled plugin `lib<product>.so` built beside this executable, loaded as the daemon
/// loads plugins (from a private staging copy).
func bundledStrategy(_ product: String) throws -> any AdapterStrategy {
    try PluginLoader(stagingDirectory: FileManager.default.temporaryDirectory.appendingPathComponent("dptune-bench-plugins-\(getpid())"))
        .load(URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("lib\(product).so")).strategy
}

func row(_ cells: [String], widths: [Int]) -> String {
    zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
}
