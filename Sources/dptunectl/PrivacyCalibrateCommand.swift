// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Privacy

/// `dptunectl privacy calibrate`: the smallest noise multiplier that keeps T steps of DP-SGD
/// within (ε, δ).
struct PrivacyCalibrateCommand: StatusCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibrate",
        abstract: "Smallest noise multiplier meeting a target (epsilon, delta) over T steps.")

    @ParentCommand var root: DPTuneCtl
    @OptionGroup var run: TrainingRunOptions

    @Option(help: "Target epsilon, > 0.")
    var epsilon: Double

    func validate() throws {
        guard epsilon > 0 && epsilon.isFinite else {
            throw ValidationError("--epsilon must be positive and finite; found \(epsilon), refusing")
        }
    }

    func execute() -> Int32 {
        do {
            let sigma = try NoiseCalibration.noiseMultiplier(
                targetEpsilon: epsilon, delta: run.delta, samplingRate: run.samplingRate, steps: run.steps,
                makeAccountant: run.accountant.makeAccountant())
            if root.json {
                print(#"{"noise_multiplier":\#(jsonNumber(sigma))}"#)
            } else {
                print("noise multiplier \(sigma) meets epsilon \(epsilon) at delta \(run.delta) (\(run.accountant.rawValue) accountant)")
            }
            return ExitStatus.ok
        } catch {
            writeToStandardError("dptunectl privacy calibrate: calibration failed: \(error), refusing")
        }
        return ExitStatus.failed
    }
}
