// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Daemon
import Foundation

/// `dptuned worker`: internal, the per-job training process the daemon spawns (DESIGN §6).
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Internal: train one admitted job and report progress as JSON lines on standard output.")

    @Option(help: "The job id (its record is STATE/jobs/ID.json).")
    var job: String

    @OptionGroup var config: ChildConfigOptions

    @Option(help: "The plugin file to load (the registry's stored copy of the job's version).")
    var plugin: String

    @Flag(help: "Exit as soon as standard input closes (the daemon holds its other end).")
    var exitWhenInputCloses = false

    func run() throws {
        let logger = DaemonLogging.bootstrap(environment: ProcessInfo.processInfo.environment)
        let status = JobWorker.run(
            jobID: job, config: config.childConfig, pluginFile: URL(fileURLWithPath: plugin),
            exitWhenInputCloses: exitWhenInputCloses, logger: logger)
        if status != WorkerExitStatus.succeeded { throw ExitCode(status) }
    }
}
