// SPDX-License-Identifier: Apache-2.0

/// The waits between tries of something the host refused for now (a full disk, a ledger it
/// cannot write): doubling from `first` up to `longest`, so that a short shortage costs a
/// few seconds and a lasting one a try a minute, logged each time.
public struct RetrySchedule: Sendable, Hashable {
    public var first: Duration
    public var longest: Duration

    public init(first: Duration, longest: Duration) {
        precondition(first > .zero && longest >= first, "a retry schedule needs 0 < first ≤ longest")
        self.first = first
        self.longest = longest
    }

    public static let standard = RetrySchedule(first: .seconds(1), longest: .seconds(60))

    /// The wait before the next try, given the wait before the last one (nil: none yet).
    public func delay(after previous: Duration?) -> Duration {
        previous.map { min($0 * 2, longest) } ?? first
    }

    /// Sleeps `delay` in slices of at most a second, returning early once `stop` says so:
    /// a daemon shutting down must not be held by a wait of a minute.
    public static func sleep(_ delay: Duration, unless stop: @Sendable () async -> Bool) async {
        var left = delay
        while left > .zero, await !stop() {
            let slice = min(left, .seconds(1))
            try? await Task.sleep(for: slice)
            left -= slice
        }
    }
}
