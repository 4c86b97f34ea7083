// SPDX-License-Identifier: Apache-2.0
import Foundation

/// The few SVG elements the charts draw, appended to one document: the training report
/// and the evaluation's plots are written without a dependency.
public struct SVGDocument: Sendable {
    private var body: String

    public init(width: Double, height: Double) {
        body = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" \
            viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif">
            <rect width="100%" height="100%" fill="white"/>

            """
    }

    public mutating func line(x1: Double, y1: Double, x2: Double, y2: Double, stroke: String, dash: String? = nil) {
        let dashing = dash.map { " stroke-dasharray=\"\($0)\"" } ?? ""
        body += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%@\" stroke-width=\"1.5\"%@/>\n",
                       x1, y1, x2, y2, stroke, dashing)
    }

    public mutating func polyline(_ points: [(Double, Double)], stroke: String) {
        let list = points.map { String(format: "%.1f,%.1f", $0.0, $0.1) }.joined(separator: " ")
        body += "<polyline points=\"\(list)\" fill=\"none\" stroke=\"\(stroke)\" stroke-width=\"2\"/>\n"
    }

    public mutating func circle(x: Double, y: Double, radius: Double, fill: String) {
        body += String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%@\"/>\n", x, y, radius, fill)
    }

    public mutating func rect(x: Double, y: Double, width: Double, height: Double, fill: String) {
        body += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%@\" stroke=\"#999\"/>\n",
                       x, y, width, height, fill)
    }

    public mutating func text(_ text: String, x: Double, y: Double, anchor: String, size: Double, rotate: Double? = nil,
                       fill: String = "#222") {
        let rotation = rotate.map { String(format: " transform=\"rotate(%.0f %.1f %.1f)\"", $0, x, y) } ?? ""
        body += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%@\" font-size=\"%.0f\" fill=\"%@\"%@>",
                       x, y, anchor, size, fill, rotation) + Self.escaped(text) + "</text>\n"
    }

    /// The colour of the `index`-th series of a chart, the same in every chart dptune draws.
    public static func colour(_ index: Int) -> String { palette[index % palette.count] }

    private static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf"]

    /// One legend line: a swatch of the series' colour from `x`, its name after it.
    public mutating func legendEntry(_ name: String, colour: String, x: Double, y: Double) {
        line(x1: x, y1: y - 4, x2: x + 20, y2: y - 4, stroke: colour)
        text(name, x: x + 26, y: y, anchor: "start", size: 11)
    }

    public func finished() -> String { body + "</svg>\n" }

    static func escaped(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;")
    }
}
