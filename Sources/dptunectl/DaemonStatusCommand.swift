// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Control

/// `dptunectl status`: is the daemon up, what is it doing.
struct DaemonStatusCommand: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the daemon's version, queue, running jobs and ledger.")

    @ParentCommand var root: DPTuneCtl

    var subject: String { "status" }

    func exchange(with client: ControlClient) throws(ControlError) -> Int32 {
        try printAnswer(to: .status, with: client)
    }
}
