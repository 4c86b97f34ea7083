// SPDX-License-Identifier: Apache-2.0
import Testing
@testable import dptune_eval

@Suite struct SpreadTests {
    @Test func meanAndSampleDeviation() {
        let spread = Spread([0.5, 0.6, 0.7])
        #expect(abs(spread.mean - 0.6) < 1e-12)
        #expect(abs(spread.deviation - 0.1) < 1e-12)
        #expect(spread.percentText == "60.0 ± 10.0")
    }

    @Test func failedRunsAreLeftOutAndOneValueHasNoSpread() {
        let spread = Spread([.nan, 0.25])
        #expect(spread.count == 1)
        #expect(spread.deviation == 0)
        #expect(spread.percentText == "25.0")
        #expect(Spread([]).percentText == "—")
    }
}
