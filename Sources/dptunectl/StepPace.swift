// SPDX-License-Identifier: Apache-2.0

/// The pace of a job as seen by the watcher: seconds per step since the first event.
struct StepPace {
    private var first: (step: Int, time: ContinuousClock.Instant)?
    private(set) var secondsPerStep: Double?

    mutating func record(step: Int, at time: ContinuousClock.Instant) {
        guard let first else {
            self.first = (step, time)
            return
        }
        guard step > first.step else { return }
        let elapsed = time - first.time
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        secondsPerStep = seconds / Double(step - first.step)
    }
}
