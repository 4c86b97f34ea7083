// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Control

/// `dptunectl job ID`: one job's plan, progress and guarantee.
struct JobCommand: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "job",
        abstract: "Show one job in detail.")

    @ParentCommand var root: DPTuneCtl

    @Argument(help: "The job id.")
    var id: String

    var subject: String { "job \(id)" }

    func exchange(with client: ControlClient) throws(ControlError) -> Int32 {
        try printAnswer(to: .job(id: id), with: client)
    }
}
