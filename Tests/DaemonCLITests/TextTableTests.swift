// SPDX-License-Identifier: Apache-2.0
import Testing

@testable import dptunectl

@Suite struct TextTableTests {
    @Test func columnsAreAsWideAsTheirWidestCellAndNumbersAlignRight() {
        var table = TextTable([.text("NAME"), .number("ε"), .text("NOTE")])
        table.append(["a", "10.00", "x"])
        table.append(["longer", "1.50", ""])
        let lines = table.render().split(separator: "\n").map(String.init)
        #expect(lines == [
            "NAME        ε  NOTE",
            "a       10.00  x",
            "longer   1.50",
        ])
    }

    @Test func fieldListsHaveNoHeader() {
        var table = TextTable([.text("key"), .text("value")])
        table.append(["state", "running"])
        table.append(["ε", "1.50"])
        #expect(table.render(includingHeader: false) == "state  running\nε      1.50")
    }
}
