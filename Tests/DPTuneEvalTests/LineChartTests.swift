// SPDX-License-Identifier: Apache-2.0
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import dptune_eval

@Suite struct LineChartTests {
    @Test func documentIsWellFormedAndDrawsEveryPoint() throws {
        var chart = LineChart(
            title: "a < b & c", xTitle: "ε", yTitle: "accuracy", xLabels: ["1", "3", "8"],
            series: [.init(name: "lora", points: [.init(x: 0, y: 0.4, spread: 0.02), .init(x: 1, y: 0.5, spread: 0),
                                                 .init(x: 2, y: 0.6, spread: 0.01)]),
                     .init(name: "failed", points: [.init(x: 0, y: .nan, spread: 0)])])
        chart.references = [(0.8, "non-private"), (0.55, "untrained")]
        let svg = chart.svg()
        #expect(XMLParser(data: Data(svg.utf8)).parse())
        #expect(svg.components(separatedBy: "<circle").count - 1 == 3)
        #expect(svg.contains("failed (no result)"))
        #expect(svg.contains("a &lt; b &amp; c"))
        #expect(svg.components(separatedBy: "stroke-dasharray").count - 1 == 2)
        #expect(svg.contains(">non-private<") && svg.contains(">untrained<"))
    }

    @Test func heatMapIsWellFormedWithAFailedCell() {
        let map = HeatMap(title: "t", rowTitle: "lr", columnTitle: "B", rowLabels: ["1e-3", "5e-3"],
                          columnLabels: ["B 16", "B 64"], values: [[0.3, 0.5], [.nan, 0.6]],
                          notes: [["σ 1", "σ 2"], ["σ 1", "σ 2"]])
        let svg = map.svg()
        #expect(XMLParser(data: Data(svg.utf8)).parse())
        #expect(svg.contains("failed"))
        #expect(svg.contains("60.0%"))
    }
}
