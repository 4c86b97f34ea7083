// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Daemon
import Foundation

/// `dptuned preflight`: internal, prepares a job before admission in a throw-away process.
struct PreflightCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "preflight",
        abstract: "Internal: prepare the job of one dataset in incoming/ as its worker would, train nothing, and print the outcome as JSON.")

    @OptionGroup var config: ChildConfigOptions

    @Option(help: "The plugin file to load (the registry's stored copy of the current version).")
    var plugin: String

    @Option(help: "A private directory (on an exec-allowed filesystem) for the staging copy.")
    var staging: String

    @Option(help: "The manifest as the daemon resolved it, every default filled in.")
    var manifest: String

    @Option(help: "The share of records (or units) held out for evaluation.")
    var heldOutFraction: Double

    @Argument(help: "The dataset's name in the spool's incoming/.")
    var dataset: String

    func run() throws {
        let status = JobPreflight.runInChild(
            config: config.childConfig, dataset: dataset, manifestFile: URL(fileURLWithPath: manifest),
            heldOutFraction: heldOutFraction, pluginFile: URL(fileURLWithPath: plugin),
            stagingDirectory: URL(fileURLWithPath: staging))
        if status != 0 { throw ExitCode(status) }
    }
}
