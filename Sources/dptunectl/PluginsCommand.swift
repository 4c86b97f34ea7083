// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Control

/// `dptunectl plugins [list | reload]`: the strategy plugins the daemon has probed.
struct PluginsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugins",
        abstract: "List strategy plugins, or rescan the plugin directory.",
        subcommands: [PluginsListCommand.self, PluginsReloadCommand.self],
        defaultSubcommand: PluginsListCommand.self)
}

/// `dptunectl plugins` (or `plugins list`): every plugin build with its state.
struct PluginsListCommand: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List plugin builds: current, retired (still serving running jobs), withdrawn (file removed; serving jobs admitted before) and refused.")

    @ParentCommand var root: DPTuneCtl

    var subject: String { "plugins" }

    func exchange(with client: ControlClient) throws(ControlError) -> Int32 {
        try printAnswer(to: .plugins, with: client)
    }
}

/// `dptunectl plugins reload`: rescan the plugin directory; running jobs keep their build.
struct PluginsReloadCommand: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "reload",
        abstract: "Rescan the plugin directory; new jobs use new builds (admin only).")

    @ParentCommand var root: DPTuneCtl

    var subject: String { "plugins reload" }

    /// The daemon answers once every new file is probed, and a probe of a plugin that hangs
    /// takes its whole 30 s deadline (four at a time): at the usual 30 s the client gave up
    /// just as the answer came.
    static var responseTimeout: Duration { .seconds(300) }

    func exchange(with client: ControlClient) throws(ControlError) -> Int32 {
        try printAnswer(to: .pluginsReload, with: client) { "plugins reloaded\n\n" + ResultText.text(for: $0) }
    }
}
