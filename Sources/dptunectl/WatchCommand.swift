// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Control
import Foundation

/// `dptunectl watch ID`: follow a job until it ends.
///
/// On a terminal one progress line is redrawn in place; otherwise (a pipe, a log) each event
/// is a line of its own, and with `--json` a JSON object. Ctrl-C ends only the watch: the
/// default SIGINT action closes the connection, which the daemon takes as the watcher
/// leaving; the job runs on.
struct WatchCommand: DaemonCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Follow a job's progress until it ends; exit 0 only if it succeeded.")

    @ParentCommand var root: DPTuneCtl

    @Argument(help: "The job id.")
    var id: String

    var subject: String { "watch \(id)" }

    func exchange(with client: ControlClient) throws(ControlError) -> Int32 {
        // The events carry the spend but not the target: ask for it once.
        guard case .job(let start) = try client.send(.job(id: id)) else {
            throw ControlError(.protocolViolation, "job \(id) was answered with something other than a job")
        }
        let target = start.summary.epsilonTarget
        let redraw = !root.json && Terminal.standardOutputIsTerminal
        var pace = StepPace()
        var encodingFailure: ControlError?
        let ended: JobDetail
        do {
            ended = try client.watch(jobID: id) { event in
                if root.json {
                    do throws(ControlError) { try printJSON(event) } catch { encodingFailure = encodingFailure ?? error }
                } else if redraw {
                    pace.record(step: event.step, at: .now)
                    let line = ProgressLine.bar(
                        event, epsilonTarget: target, secondsPerStep: pace.secondsPerStep, width: Terminal.width)
                    Terminal.write("\r" + line + "\u{1B}[K")
                } else {
                    Terminal.write(ProgressLine.plain(event, epsilonTarget: target) + "\n")
                }
            }
        } catch {
            // A failure mid-watch (the daemon stopping) must not print its error over the bar.
            if redraw { Terminal.write("\n") }
            throw error
        }
        if redraw { Terminal.write("\n") }
        if let encodingFailure { throw encodingFailure }
        if root.json {
            try printJSON(ended)
        } else {
            Terminal.write(ResultText.fields(ResultText.detailFields(ended)) + "\n")
        }
        return ended.summary.state == .succeeded ? ExitStatus.ok : ExitStatus.failed
    }
}
