// SPDX-License-Identifier: Apache-2.0
import Glibc

/// Seconds from `start` to `end`.
public func seconds(from start: ContinuousClock.Instant, to end: ContinuousClock.Instant) -> Double {
    let elapsed = end - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
}

/// Seconds elapsed since `start`.
public func seconds(since start: ContinuousClock.Instant) -> Double {
    seconds(from: start, to: .now)
}

/// The seconds of each of `repeats` timed runs of `body`, in order, after one untimed run
/// that warms caches and grows scratch buffers.
public func timedSeconds(repeats: Int, _ body: () throws -> Void) rethrows -> [Double] {
    try body()
    return try (0..<repeats).map { _ in
        let start = ContinuousClock.now
        try body()
        return seconds(since: start)
    }
}

/// The median of ``timedSeconds(repeats:_:)``.
public func medianSeconds(repeats: Int, _ body: () throws -> Void) rethrows -> Double {
    median(try timedSeconds(repeats: repeats, body))
}

/// The middle value, the upper one of an even count: always a value that was measured.
///
/// - Precondition: `values` is not empty.
public func median<C: Collection<Double>>(_ values: C) -> Double {
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}

/// Peak resident set size of this process so far (getrusage's high-water mark), in MiB.
public func peakResidentMiB() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_maxrss) / 1024
}
