// SPDX-License-Identifier: Apache-2.0
import Foundation
import Training

/// A line chart with error bars as a standalone SVG document, written without dependencies.
///
/// ```
///  y (accuracy, 0…1)
///  ┌──────────────────────┐  legend: one colour per series;
///  │   ●───●────●         │  each reference is a dashed
///  │ ●─┼───●              │  horizontal line across the plot
///  └──────────────────────┘
///    x positions are categories, equally spaced, labelled by `xLabels`
/// ```
struct LineChart {
    struct Point {
        /// Index into ``LineChart/xLabels``.
        let x: Int
        let y: Double
        /// Half-height of the error bar (a standard deviation); 0 draws none.
        let spread: Double
    }

    struct Series {
        let name: String
        let points: [Point]
    }

    let title: String
    let xTitle: String
    let yTitle: String
    let xLabels: [String]
    let series: [Series]
    /// Dashed horizontal lines (the non-private accuracy, the untrained start) and their labels.
    var references: [(value: Double, label: String)] = []


    func svg() -> String {
        let width = 640.0, height = 400.0, left = 60.0, right = 170.0, top = 40.0, bottom = 50.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        func px(_ x: Int) -> Double {
            let inset = 30.0
            return left + (xLabels.count <= 1 ? plotWidth / 2
                : inset + (plotWidth - 2 * inset) * Double(x) / Double(xLabels.count - 1))
        }
        func py(_ y: Double) -> Double { top + plotHeight * (1 - min(1, max(0, y))) }
        var out = SVGDocument(width: width, height: height)
        out.text(title, x: width / 2, y: 22, anchor: "middle", size: 15)
        for tick in stride(from: 0.0, through: 1.0001, by: 0.2) {
            out.line(x1: left, y1: py(tick), x2: left + plotWidth, y2: py(tick), stroke: "#ddd")
            out.text(String(format: "%.0f%%", tick * 100), x: left - 6, y: py(tick) + 4, anchor: "end", size: 11)
        }
        for (index, label) in xLabels.enumerated() {
            out.text(label, x: px(index), y: top + plotHeight + 18, anchor: "middle", size: 11)
        }
        out.line(x1: left, y1: top, x2: left, y2: top + plotHeight, stroke: "#333")
        out.line(x1: left, y1: top + plotHeight, x2: left + plotWidth, y2: top + plotHeight, stroke: "#333")
        out.text(xTitle, x: left + plotWidth / 2, y: height - 10, anchor: "middle", size: 12)
        out.text(yTitle, x: 16, y: top + plotHeight / 2, anchor: "middle", size: 12, rotate: -90)
        for reference in references {
            out.line(x1: left, y1: py(reference.value), x2: left + plotWidth, y2: py(reference.value), stroke: "#555",
                     dash: "6,4")
            out.text(reference.label, x: left + plotWidth - 4, y: py(reference.value) - 5, anchor: "end", size: 11)
        }
        for (index, series) in series.enumerated() {
            let colour = SVGDocument.colour(index)
            let points = series.points.filter { $0.y.isFinite }
            if points.count > 1 {
                out.polyline(points.map { (px($0.x), py($0.y)) }, stroke: colour)
            }
            for point in points {
                if point.spread > 0 {
                    out.line(x1: px(point.x), y1: py(point.y - point.spread), x2: px(point.x),
                             y2: py(point.y + point.spread), stroke: colour)
                }
                out.circle(x: px(point.x), y: py(point.y), radius: 3.5, fill: colour)
            }
            out.legendEntry(series.name + (points.isEmpty ? " (no result)" : ""), colour: colour, x: left + plotWidth + 14,
                            y: top + 16 + Double(index) * 20)
        }
        return out.finished()
    }
}
