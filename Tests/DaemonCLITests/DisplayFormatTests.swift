// SPDX-License-Identifier: Apache-2.0
import Testing

@testable import dptunectl

@Suite struct DisplayFormatTests {
    @Test(arguments: [
        (1.5, "1.50"), (8, "8.00"), (0, "0.00"), (0.004, "4.0e-03"), (123.456, "123.46"),
        (Double.infinity, "∞"),
    ])
    func epsilon(value: Double, expected: String) {
        #expect(DisplayFormat.epsilon(value) == expected)
    }

    @Test func epsilonNaNIsNotANumber() {
        #expect(DisplayFormat.epsilon(.nan) == "NaN")
    }

    @Test(arguments: [(12.4, "12s"), (185, "3m05s"), (3720, "1h02m"), (-1, "-")])
    func duration(seconds: Double, expected: String) {
        #expect(DisplayFormat.duration(seconds: seconds) == expected)
    }

    @Test func smallValues() {
        #expect(DisplayFormat.delta(1e-5) == "1e-05")
        #expect(DisplayFormat.loss(nil) == "-")
        #expect(DisplayFormat.loss(0.69314) == "0.6931")
        #expect(DisplayFormat.percent(0.25) == "25%")
        #expect(DisplayFormat.rate(120.4) == "120")
        #expect(DisplayFormat.rate(2.25) == "2.2")
    }
}
