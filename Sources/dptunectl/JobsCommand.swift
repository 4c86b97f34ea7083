// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Control

/// `dptunectl jobs`: every job the daemon knows, one line each.
struct JobsCommand: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "List jobs with their state, progress and privacy spend.")

    @ParentCommand var root: DPTuneCtl

    var subject: String { "jobs" }

    func exchange(with client: ControlClient) throws(ControlError) -> Int32 {
        try printAnswer(to: .jobs, with: client)
    }
}
