// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Control
import Foundation

/// `dptunectl submit DATA.jsonl [--manifest M.json]`: queue a dataset through the daemon
/// rather than by writing into the spool.
///
/// The files are read here, with the caller's rights, and their bytes sent over the control
/// socket: the daemon may see neither the caller's home nor its /tmp (the shipped unit has
/// `ProtectHome=yes` and `PrivateTmp=yes`). It stages them in the spool and validates them
/// there.
struct SubmitCommand: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit",
        abstract: "Queue a dataset (and optional manifest) for training (admin only).")

    @ParentCommand var root: DPTuneCtl

    @Argument(help: "The dataset, JSON Lines.")
    var data: String

    @Option(help: "The dataset's manifest (NAME.manifest.json).")
    var manifest: String?

    var subject: String { "submit \(data)" }

    func exchange(with client: ControlClient) throws(ControlError) -> Int32 {
        let manifest = try self.manifest.map { path throws(ControlError) in try UploadSource(path: path) }
        let receipt = try client.submit(dataset: try UploadSource(path: data), manifest: manifest)
        return try printResult(.submitted(receipt))
    }
}
