// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Daemon
import Foundation

/// The options naming the daemon's config to a child it spawns (``ChildConfig/arguments``).
struct ChildConfigOptions: ParsableArguments {
    // Not `--config`: ArgumentParser gives that name to the root command's option even after
    // the subcommand name.
    @Option(name: .customLong("daemon-config"), help: "The daemon's configuration file.")
    var config: String = "/etc/dptune/dptuned.toml"

    @Option(help: "The daemon's copy of the configuration it runs under, read as if it were --daemon-config.")
    var configCopy: String?

    var childConfig: ChildConfig {
        ChildConfig(original: URL(fileURLWithPath: config), copy: configCopy.map(URL.init(fileURLWithPath:)))
    }
}
