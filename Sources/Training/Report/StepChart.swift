// SPDX-License-Identifier: Apache-2.0
import Foundation

/// One panel of the training report: series of values over the run's steps.
///
/// ```
///  y (0 … the largest finite value, or `yMaximum`)
///  ┌──────────────────────┐  legend: one colour per series;
///  │ ╲___                 │  a reference is a dashed
///  │     ‾‾‾‾‾──────      │  horizontal line (the target ε)
///  └──────────────────────┘
///  x: step 0 … totalSteps
/// ```
struct StepChart {
    struct Series {
        let name: String
        let points: [(step: Int, value: Double)]
        /// Dots at each point: for a few evaluations, where a line alone would hide them.
        var marked = false
    }

    let title: String
    let yTitle: String
    let totalSteps: Int
    let series: [Series]
    /// A fixed top of the y axis (1 for accuracy); otherwise the largest value shown.
    var yMaximum: Double?
    /// Whether the y axis starts at 0 (accuracy, ε) or at the smallest value shown (the
    /// loss, whose changes would otherwise be a flat line near the top).
    var fromZero = true
    var reference: (value: Double, label: String)?
    /// Percent tick labels (accuracy) rather than numbers.
    var percent = false

    /// A line of more points than this is thinned to every k-th point (and the last): a
    /// long run would otherwise write megabytes of SVG for what 1,000 points show as well.
    static let maximumDrawnPoints = 1_000
    static let width = 720.0, height = 260.0

    /// Draws the panel into `document` with its top edge at `top`.
    func draw(into document: inout SVGDocument, top: Double) {
        let left = 70.0, right = 190.0, upper = 34.0, lower = 40.0
        let plotWidth = Self.width - left - right, plotHeight = Self.height - upper - lower
        let finite = series.flatMap { $0.points.map(\.value) }.filter(\.isFinite) + [reference?.value].compactMap { $0 }
        let top = top + upper
        let yMin = fromZero ? 0 : finite.min() ?? 0
        var yMax = yMaximum ?? finite.max() ?? 1
        if yMax <= yMin { yMax = yMin + max(1, abs(yMin)) }
        func px(_ step: Int) -> Double { left + plotWidth * Double(step) / Double(max(1, totalSteps)) }
        func py(_ value: Double) -> Double { top + plotHeight * (1 - min(1, max(0, (value - yMin) / (yMax - yMin)))) }

        document.text(title, x: left + plotWidth / 2, y: top - 12, anchor: "middle", size: 14)
        for tick in 0...4 {
            let value = yMin + (yMax - yMin) * Double(tick) / 4
            document.line(x1: left, y1: py(value), x2: left + plotWidth, y2: py(value), stroke: "#ddd")
            let label = percent ? String(format: "%.0f%%", value * 100) : String(format: "%.3g", value)
            document.text(label, x: left - 6, y: py(value) + 4, anchor: "end", size: 11)
        }
        for tick in 0...4 {
            let step = totalSteps * tick / 4
            document.text("\(step)", x: px(step), y: top + plotHeight + 16, anchor: "middle", size: 11)
        }
        document.line(x1: left, y1: top, x2: left, y2: top + plotHeight, stroke: "#333")
        document.line(x1: left, y1: top + plotHeight, x2: left + plotWidth, y2: top + plotHeight, stroke: "#333")
        document.text("step", x: left + plotWidth / 2, y: top + plotHeight + 32, anchor: "middle", size: 12)
        document.text(yTitle, x: 18, y: top + plotHeight / 2, anchor: "middle", size: 12, rotate: -90)
        if let reference {
            document.line(x1: left, y1: py(reference.value), x2: left + plotWidth, y2: py(reference.value),
                          stroke: "#555", dash: "6,4")
            document.text(reference.label, x: left + plotWidth - 4, y: py(reference.value) - 5, anchor: "end", size: 11)
        }
        for (index, line) in series.enumerated() {
            let colour = SVGDocument.colour(index)
            let points = Self.thinned(line.points.filter { $0.value.isFinite })
            if points.count > 1 { document.polyline(points.map { (px($0.step), py($0.value)) }, stroke: colour) }
            if line.marked || points.count == 1 {
                for point in points { document.circle(x: px(point.step), y: py(point.value), radius: 3.5, fill: colour) }
            }
            document.legendEntry(line.name, colour: colour, x: left + plotWidth + 14, y: top + 12 + Double(index) * 18)
        }
    }

    static func thinned(_ points: [(step: Int, value: Double)]) -> [(step: Int, value: Double)] {
        guard points.count > maximumDrawnPoints, let last = points.last else { return points }
        let stride = (points.count + maximumDrawnPoints - 1) / maximumDrawnPoints
        var kept = Swift.stride(from: 0, to: points.count, by: stride).map { points[$0] }
        if kept.last?.step != last.step { kept.append(last) }
        return kept
    }
}
