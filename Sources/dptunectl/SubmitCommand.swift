// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Control
import Foundation

/// `dptunectl submit DATA.jsonl [--manifest M.json]`: queue a dataset through the daemon
/// rather than by writing into the spool.
///
/// Paths are sent absolute, resolved against the current directory, because the daemon
/// runs elsewhere; it copies the files into the spool itself and validates them there.
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
        try printAnswer(to: .submit(path: Self.absolute(data), manifestPath: manifest.map(Self.absolute)), with: client)
    }

    private static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }
}
