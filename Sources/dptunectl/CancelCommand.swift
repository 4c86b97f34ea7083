// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Control

/// `dptunectl cancel ID`: stop a job; its ledger charge stays as the daemon decides.
struct CancelCommand: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel a queued or running job (admin only).")

    @ParentCommand var root: DPTuneCtl

    @Argument(help: "The job id.")
    var id: String

    var subject: String { "cancel \(id)" }

    func exchange(with client: ControlClient) throws(ControlError) -> Int32 {
        try printAnswer(to: .cancel(id: id), with: client)
    }
}
