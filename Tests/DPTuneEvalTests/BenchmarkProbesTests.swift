// SPDX-License-Identifier: Apache-2.0
import BenchmarkProbes
import Testing

@Suite struct BenchmarkProbesTests {
    /// The untimed warm-up run happens, and each timed run gets its own entry.
    @Test func timedSecondsRunsOnceMoreThanItTimes() {
        var runs = 0
        let times = timedSeconds(repeats: 3) { runs += 1 }
        #expect(runs == 4)
        #expect(times.count == 3 && times.allSatisfy { $0 >= 0 })
    }

    /// A ragged product (no dimension a multiple of the kernel's blocks) still computes the
    /// right values, or the probe would have stopped, and each repeat has a rate.
    @Test func sgemmRatesArePositivePerRepeat() {
        let rates = sgemmGFLOPs(m: 37, n: 45, k: 29, repeats: 3)
        #expect(rates.count == 3 && rates.allSatisfy { $0.isFinite && $0 > 0 })
    }

    /// The upper middle of an even count, so that the median is always a measured value.
    @Test func medianIsAMeasuredValue() {
        #expect(median([3.0, 1, 2]) == 2)
        #expect(median([4.0, 1, 3, 2]) == 3)
    }
}
