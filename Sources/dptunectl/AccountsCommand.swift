// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Control

/// `dptunectl accounts`: every privacy budget and what is left of it.
struct AccountsCommand: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "accounts",
        abstract: "List privacy accounts with their cap, spend and remaining budget.")

    @ParentCommand var root: DPTuneCtl

    var subject: String { "accounts" }

    func exchange(with client: ControlClient) throws(ControlError) -> Int32 {
        try printAnswer(to: .accounts, with: client)
    }
}
