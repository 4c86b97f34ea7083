// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Control
import Foundation

/// `dptunectl report ID`: a job's outcome and where its artifacts are (DESIGN §3.5).
///
/// The protocol has no `report` method: this is `job` with the published files named. With
/// `--json` it is the `job` answer unchanged, which already carries `adapter_path`.
struct ReportCommand: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Show a job's outcome and its published adapter and model card.")

    @ParentCommand var root: DPTuneCtl

    @Argument(help: "The job id.")
    var id: String

    var subject: String { "report \(id)" }

    func exchange(with client: ControlClient) throws(ControlError) -> Int32 {
        try printAnswer(to: .job(id: id), with: client) { result in
            guard case .job(let detail) = result else { return ResultText.text(for: result) }
            return ResultText.fields(ResultText.detailFields(detail) + Self.artifactFields(detail.summary))
        }
    }

    /// The published files that exist (the daemon shares this host: the socket is local);
    /// before the job succeeded, why there are none.
    static func artifactFields(_ job: JobSummary) -> [(String, String)] {
        guard let adapter = job.adapterPath else {
            return [("artifacts", job.state == .succeeded ? "none published" : "none (job \(job.state.rawValue))")]
        }
        let directory = URL(fileURLWithPath: adapter, isDirectory: true)
        return [("model card", "model_card.json"), ("report", "report.html"), ("report drawing", "report.svg")].compactMap { name, file in
            let path = directory.appendingPathComponent(file).path
            return FileManager.default.fileExists(atPath: path) ? (name, path) : nil
        }
    }
}
