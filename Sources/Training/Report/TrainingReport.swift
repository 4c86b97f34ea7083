// SPDX-License-Identifier: Apache-2.0
import Foundation

/// `report.svg` and `report.html` of a published adapter (DESIGN §3.5): training loss,
/// held-out accuracy and ε over the run's steps, beside the guarantee of its model card.
///
/// The loss and the accuracy are measured on the private data and are not privatized, as
/// the card's held-out accuracy is not; the page says so, since only the adapter's
/// parameters carry the guarantee.
public struct TrainingReport: Sendable {
    public let svg: String
    public let html: String

    static let disclosure = "The privacy guarantee covers the adapter's parameters. The training loss and the held-out accuracy shown here are computed on the private data and are not privatized: share this report only where the data itself may be seen."

    public init(history: TrainingHistory, card: ModelCard) {
        svg = Self.svg(history: history, card: card)
        html = Self.html(history: history, card: card, svg: svg)
    }

    private static func svg(history: TrainingHistory, card: ModelCard) -> String {
        let totalSteps = max(history.steps.last?.step ?? 0, history.evaluations.last?.step ?? 0, 1)
        let tasks = history.evaluations.last.map { $0.accuracy.keys.sorted() } ?? []
        var accuracy = tasks.map { task in
            StepChart.Series(name: task, points: history.evaluations.compactMap { evaluation in
                evaluation.accuracy[task].map { (evaluation.step, $0) }
            }, marked: true)
        }
        if tasks.count > 1 {
            accuracy.insert(StepChart.Series(name: "macro", points: history.evaluations.map { evaluation in
                (evaluation.step, evaluation.accuracy.values.reduce(0, +) / Double(max(1, evaluation.accuracy.count)))
            }, marked: true), at: 0)
        }
        let panels = [
            StepChart(title: "Training loss (each step's batch)", yTitle: "loss", totalSteps: totalSteps,
                      series: [.init(name: "loss", points: history.steps.map { ($0.step, $0.loss) })], fromZero: false),
            StepChart(title: "Held-out accuracy", yTitle: "accuracy", totalSteps: totalSteps, series: accuracy,
                      yMaximum: 1, percent: true),
            StepChart(title: "Privacy spent (ε at δ = \(String(format: "%.0e", card.privacy.delta)))", yTitle: "ε",
                      totalSteps: totalSteps,
                      series: [.init(name: "ε spent", points: history.steps.map { ($0.step, $0.epsilon) })],
                      reference: (card.privacy.targetEpsilon, String(format: "target ε %.3g", card.privacy.targetEpsilon))),
        ]
        var document = SVGDocument(width: StepChart.width, height: StepChart.height * Double(panels.count))
        for (index, panel) in panels.enumerated() {
            panel.draw(into: &document, top: StepChart.height * Double(index))
        }
        return document.finished()
    }

    private static func html(history: TrainingHistory, card: ModelCard, svg: String) -> String {
        let privacy = card.privacy
        var guarantee: [(String, String)] = [
            ("ε spent", String(format: "%.4g (target %.4g)", privacy.epsilon, privacy.targetEpsilon)),
            ("δ", String(format: "%.0e", privacy.delta)),
            ("privacy unit", privacy.unit), ("adjacency", privacy.adjacency),
            ("mechanism", privacy.mechanism), ("accountant", privacy.accountant),
            ("clip C", String(format: "%.4g", privacy.clip)), ("N (public)", "\(privacy.populationSize)"),
        ]
        if let sigma = privacy.noiseMultiplier { guarantee.append(("noise multiplier σ", String(format: "%.4g", sigma))) }
        if let q = privacy.samplingRate { guarantee.append(("sampling rate q", String(format: "%.4g", q))) }
        if let steps = privacy.steps { guarantee.append(("steps", "\(steps)")) }
        let tasks = history.evaluations.last.map { $0.accuracy.keys.sorted() } ?? []
        let rows = history.evaluations.map { evaluation in
            "<tr><td>\(evaluation.step)</td>" + tasks.map { task in
                "<td>\(evaluation.accuracy[task].map { String(format: "%.1f%%", $0 * 100) } ?? "")</td>"
            }.joined() + "</tr>"
        }
        func escaped(_ text: String) -> String { SVGDocument.escaped(text) }
        return """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <title>dptune adapter \(escaped(card.jobID))</title>
            <style>
            body { font-family: sans-serif; margin: 2em; color: #222; max-width: 760px; }
            table { border-collapse: collapse; margin: 1em 0; }
            td, th { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; }
            .note { background: #fff4e0; padding: 0.6em 1em; border-left: 4px solid #e0a030; }
            </style>
            </head>
            <body>
            <h1>Adapter \(escaped(card.jobID))</h1>
            <p>\(escaped(card.strategy.id)) \(escaped(card.strategy.version)) on \(escaped(card.backbone.id)); \
            \(card.trainableParameters) trainable parameters (\(String(format: "%.3g", card.trainablePercent))% of the backbone); \
            written \(escaped(card.createdAt)).</p>
            <h2>Guarantee</h2>
            <table>
            \(guarantee.map { "<tr><th>\(escaped($0.0))</th><td>\(escaped($0.1))</td></tr>" }.joined(separator: "\n"))
            </table>
            <p class="note">\(escaped(disclosure))</p>
            <h2>Over the run</h2>
            \(svg)
            <h2>Held-out accuracy</h2>
            <table>
            <tr><th>step</th>\(tasks.map { "<th>\(escaped($0))</th>" }.joined())</tr>
            \(rows.joined(separator: "\n"))
            </table>
            </body>
            </html>

            """
    }
}
