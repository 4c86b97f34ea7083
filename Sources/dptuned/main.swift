// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Daemon
import Foundation

/// dptuned: the daemon, and the internal commands it runs as child processes.
struct DPTuned: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dptuned",
        abstract: "Differentially private fine-tuning daemon.",
        subcommands: [PluginCommand.self])
}

struct PluginCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugin", abstract: "Internal: plugin maintenance.", subcommands: [Probe.self])

    struct Probe: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Internal: load one plugin in this throw-away process and print its metadata as JSON.")

        @Option(help: "A private directory (on an exec-allowed filesystem) for the staging copy.")
        var staging: String = FileManager.default.temporaryDirectory.appendingPathComponent("dptune-probe").path

        @Argument(help: "The plugin file (.so).")
        var file: String

        func run() throws {
            let status = PluginProbe.runInChild(file: URL(fileURLWithPath: file),
                                                stagingDirectory: URL(fileURLWithPath: staging))
            if status != 0 { throw ExitCode(status) }
        }
    }
}

DPTuned.main()
