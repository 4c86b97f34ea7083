// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Control
import Foundation

/// `dptunectl`: the operator's command line (DESIGN.md §3.6).
///
/// Daemon commands (status, jobs, …) talk to `--socket`; the `privacy` planning commands
/// work offline. All honour `--json`.
struct DPTuneCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dptunectl",
        abstract: "Control and query the dptune daemon, and plan privacy budgets offline.",
        subcommands: [
            DaemonStatusCommand.self, JobsCommand.self, JobCommand.self, WatchCommand.self, CancelCommand.self,
            ReportCommand.self, LedgerCommand.self, AccountsCommand.self, PluginsCommand.self, SubmitCommand.self,
            PrivacyCommand.self,
        ])

    @Option(help: "The daemon's control socket.")
    var socket: String = ControlClient.defaultSocketPath

    @Flag(help: "Print machine-readable JSON instead of human text.")
    var json = false

    /// Parses `arguments`, runs the command and returns the process exit status:
    /// 0 ok, 1 the request failed (the message says why), 2 usage error, 3 daemon unreachable.
    static func exitStatus(arguments: [String]) -> Int32 {
        do {
            var command = try parseAsRoot(arguments)
            if let leaf = command as? StatusCommand { return leaf.execute() }
            // Command groups and `help` print help through ArgumentParser's own `run()`.
            try command.run()
            return ExitStatus.ok
        } catch {
            return exitStatus(reporting: error)
        }
    }

    /// Prints what ArgumentParser says about `error`: help to standard output (status 0),
    /// anything else, a usage error, to standard error (status 2).
    private static func exitStatus(reporting error: Error) -> Int32 {
        let message = fullMessage(for: error)
        if exitCode(for: error) == .success {
            print(message)
            return ExitStatus.ok
        }
        writeToStandardError(message)
        return ExitStatus.usage
    }
}

/// The exit statuses of DESIGN.md §3.6.
enum ExitStatus {
    static let ok: Int32 = 0
    static let failed: Int32 = 1
    static let usage: Int32 = 2
    static let daemonUnreachable: Int32 = 3
}

/// A leaf command that does its work and returns the exit status, rather than throwing
/// through ArgumentParser (whose usage-error status is 64, not ours).
protocol StatusCommand: ParsableCommand {
    func execute() -> Int32
}

/// Writes one line to standard error ("what failed: value, refusing.").
func writeToStandardError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
