// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Daemon
import Foundation

/// dptuned: the daemon, and the internal commands it runs as child processes.
@main
struct DPTuned: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dptuned",
        abstract: "Differentially private fine-tuning daemon; runs in the foreground.",
        subcommands: [TrainCommand.self, PredictCommand.self, PluginCommand.self, WorkerCommand.self,
                      PreflightCommand.self])

    @Option(help: "The daemon's configuration file.")
    var config: String = "/etc/dptune/dptuned.toml"

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let logger = DaemonLogging.bootstrap(environment: environment)
        do {
            let configFile = URL(fileURLWithPath: config).standardizedFileURL
            let settings = try DaemonConfig(contentsOf: configFile)
            let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            try await DaemonService(
                config: settings, environment: environment, executable: executable, configFile: configFile,
                runner: { plugins, childConfig in
                    WorkerProcessRunner(executable: executable, config: childConfig, plugins: plugins,
                                        cancelGrace: settings.scheduler.cancelGrace, logger: logger)
                },
                logger: logger
            ).run()
        } catch {
            FileHandle.standardError.write(Data("dptuned: \(error), refusing to start\n".utf8))
            throw ExitCode(1)
        }
    }
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

