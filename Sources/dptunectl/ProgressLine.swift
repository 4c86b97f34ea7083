// SPDX-License-Identifier: Apache-2.0
import Control

/// The text `watch` shows for a progress event: a bar redrawn in place on a terminal, or a
/// plain line per event for pipes and logs.
///
/// Pure functions of the event, so they are tested without a terminal.
enum ProgressLine {
    /// The narrowest bar worth drawing; below it the bar is left out.
    static let minimumBarWidth = 10

    /// `[#####.....]  step 25/100  loss 0.6931  ε 1.50/8.00  120 ex/s  ETA 3m45s`, at most
    /// `width - 1` characters so the terminal never wraps it.
    ///
    /// - Parameters:
    ///   - event: The latest progress of the job.
    ///   - epsilonTarget: The job's ε target, shown beside the spend.
    ///   - secondsPerStep: The observed pace, for the ETA; nil before it is known.
    ///   - width: The terminal's width in columns.
    static func bar(_ event: ProgressEvent, epsilonTarget: Double, secondsPerStep: Double?, width: Int) -> String {
        // "ETA -" until the pace is known keeps the bar from jumping when the estimate appears.
        let eta = secondsPerStep.map { DisplayFormat.duration(seconds: $0 * Double(max(event.totalSteps - event.step, 0))) }
        let figures = self.figures(event, epsilonTarget: epsilonTarget) + "  ETA \(eta ?? "-")"
        let barWidth = width - 1 - figures.count - 4
        guard barWidth >= minimumBarWidth else { return String(figures.prefix(max(width - 1, 0))) }
        let fraction = event.totalSteps > 0 ? min(max(Double(event.step) / Double(event.totalSteps), 0), 1) : 0
        let filled = Int((fraction * Double(barWidth)).rounded(.down))
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: barWidth - filled) + "]  "
            + figures
    }

    /// `job-1 running  step 25/100  loss 0.6931  ε 1.50/8.00  120 ex/s`: one line per event.
    static func plain(_ event: ProgressEvent, epsilonTarget: Double) -> String {
        "\(event.jobID) \(event.state.rawValue)  " + figures(event, epsilonTarget: epsilonTarget)
    }

    private static func figures(_ event: ProgressEvent, epsilonTarget: Double) -> String {
        [
            "step \(event.step)/\(event.totalSteps)",
            "loss \(DisplayFormat.loss(event.loss))",
            "ε \(DisplayFormat.epsilon(event.epsilonSpent))/\(DisplayFormat.epsilon(epsilonTarget))",
            "\(DisplayFormat.rate(event.examplesPerSecond)) ex/s",
        ].joined(separator: "  ")
    }
}
