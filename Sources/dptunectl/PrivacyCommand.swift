// SPDX-License-Identifier: Apache-2.0
import ArgumentParser

/// `dptunectl privacy …`: offline planning tools; no daemon needed.
struct PrivacyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "privacy",
        abstract: "Plan privacy budgets offline: epsilon of a DP-SGD run, or the noise it needs.",
        subcommands: [PrivacyEpsilonCommand.self, PrivacyCalibrateCommand.self])
}

/// The DP-SGD run both planning commands describe, validated at parse time so a bad value
/// is a usage error (exit 2) that names the option.
struct TrainingRunOptions: ParsableArguments {
    @Option(help: "Poisson sampling rate q = expected batch / dataset size, in (0, 1].")
    var samplingRate: Double

    @Option(help: "Number of training steps T ≥ 1.")
    var steps: Int

    @Option(help: "Target delta, in (0, 1).")
    var delta: Double

    @Option(help: "Privacy accountant: rdp or pld.")
    var accountant: AccountantKind = .rdp

    func validate() throws {
        guard samplingRate > 0 && samplingRate <= 1 else {
            throw ValidationError("--sampling-rate must be in (0, 1]; found \(samplingRate), refusing")
        }
        guard steps >= 1 else {
            throw ValidationError("--steps must be at least 1; found \(steps), refusing")
        }
        guard delta > 0 && delta < 1 else {
            throw ValidationError("--delta must be in (0, 1); found \(delta), refusing")
        }
    }
}

/// Formats a number for JSON output: shortest round-trip decimal, `null` if not finite.
func jsonNumber(_ value: Double?) -> String {
    guard let value, value.isFinite else { return "null" }
    return "\(value)"
}
