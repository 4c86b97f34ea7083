// SPDX-License-Identifier: Apache-2.0
import Foundation
import Training

/// A grid of values coloured from white (lowest) to dark blue (highest) as an SVG
/// document; each cell also prints its value and a second line (e.g. the noise multiplier).
struct HeatMap {
    let title: String
    let rowTitle: String
    let columnTitle: String
    let rowLabels: [String]
    let columnLabels: [String]
    /// `values[row][column]`; NaN is a failed cell, drawn grey.
    let values: [[Double]]
    /// `notes[row][column]`: the second line of each cell.
    let notes: [[String]]

    func svg() -> String {
        let cell = 96.0, left = 110.0, top = 66.0
        let width = max(380, left + cell * Double(columnLabels.count) + 20)
        let height = top + cell * Double(rowLabels.count) + 50
        let finite = values.joined().filter(\.isFinite)
        let low = finite.min() ?? 0, high = finite.max() ?? 1
        var out = SVGDocument(width: width, height: height)
        out.text(title, x: width / 2, y: 22, anchor: "middle", size: 14)
        out.text(columnTitle, x: left + cell * Double(columnLabels.count) / 2, y: 42, anchor: "middle", size: 12)
        out.text(rowTitle, x: 16, y: top + cell * Double(rowLabels.count) / 2, anchor: "middle", size: 12, rotate: -90)
        for (column, label) in columnLabels.enumerated() {
            out.text(label, x: left + cell * (Double(column) + 0.5), y: top - 8, anchor: "middle", size: 11)
        }
        for (row, label) in rowLabels.enumerated() {
            out.text(label, x: left - 8, y: top + cell * (Double(row) + 0.5) + 4, anchor: "end", size: 11)
            for column in columnLabels.indices {
                let value = values[row][column]
                let share = high > low ? (value - low) / (high - low) : 0.5
                let x = left + cell * Double(column), y = top + cell * Double(row)
                out.rect(x: x, y: y, width: cell, height: cell, fill: value.isFinite ? Self.colour(share) : "#bbbbbb")
                let ink = value.isFinite && share > 0.55 ? "white" : "#222"
                out.text(value.isFinite ? String(format: "%.1f%%", value * 100) : "failed", x: x + cell / 2,
                         y: y + cell / 2, anchor: "middle", size: 13, fill: ink)
                out.text(notes[row][column], x: x + cell / 2, y: y + cell / 2 + 18, anchor: "middle", size: 10, fill: ink)
            }
        }
        return out.finished()
    }

    /// Pale to dark blue (the lowest cell stays visible on the white page).
    private static func colour(_ share: Double) -> String {
        let t = 0.1 + 0.9 * min(1, max(0, share))
        let (r, g, b) = (255 - 247 * t, 255 - 207 * t, 255 - 148 * t)
        return String(format: "#%02x%02x%02x", Int(r), Int(g), Int(b))
    }
}
