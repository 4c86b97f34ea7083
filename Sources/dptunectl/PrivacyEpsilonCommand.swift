// SPDX-License-Identifier: Apache-2.0
import ArgumentParser
import Privacy

/// `dptunectl privacy epsilon`: the ε that T steps of DP-SGD spend at δ.
struct PrivacyEpsilonCommand: StatusCommand {
    static let configuration = CommandConfiguration(
        commandName: "epsilon",
        abstract: "Epsilon spent by T Poisson-sampled Gaussian steps, at the given delta.")

    @ParentCommand var root: DPTuneCtl
    @OptionGroup var run: TrainingRunOptions

    @Option(help: "Noise multiplier sigma (noise std / clipping norm), > 0.")
    var noiseMultiplier: Double

    func validate() throws {
        guard noiseMultiplier > 0 && noiseMultiplier.isFinite else {
            throw ValidationError("--noise-multiplier must be positive; found \(noiseMultiplier), refusing")
        }
    }

    func execute() -> Int32 {
        do {
            var accountant = run.accountant.makeAccountant()(.addOrRemoveOne)
            let step = DpEvent.poissonSampled(probability: run.samplingRate, event: .gaussian(noiseMultiplier: noiseMultiplier))
            try accountant.compose(step, count: run.steps)
            let epsilon: Double
            let order: Double?
            if let rdp = accountant as? RDPAccountant {
                (epsilon, order) = try rdp.epsilonAndOrder(delta: run.delta)
            } else {
                (epsilon, order) = (try accountant.epsilon(delta: run.delta), nil)
            }
            if root.json {
                print(#"{"epsilon":\#(jsonNumber(epsilon)),"delta":\#(jsonNumber(run.delta)),"accountant":"\#(run.accountant.rawValue)","order":\#(jsonNumber(order))}"#)
            } else {
                let orderNote = order.map { ", optimal order \($0)" } ?? ""
                print("epsilon \(epsilon) at delta \(run.delta) (\(run.accountant.rawValue) accountant\(orderNote))")
            }
            return ExitStatus.ok
        } catch {
            writeToStandardError("dptunectl privacy epsilon: accounting failed: \(error), refusing")
        }
        return ExitStatus.failed
    }
}
