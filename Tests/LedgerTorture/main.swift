// SPDX-License-Identifier: Apache-2.0
//
// The child of the ledger crash test (LedgerStoreCrashTests): admits and finishes jobs on
// a real ledger file in a loop until the parent SIGKILLs it. It writes one unbuffered line
// per durable step so the parent knows what must have survived the kill:
//   ready              the store opened (and passed its integrity check)
//   admitted ID N      admit(_:) returned: job ID and its N charges are on disk
//   finished ID        commit/fail/cancel returned
import Foundation
import Ledger
import Privacy

/// Exits with a message; the parent treats any exit as a failure (only SIGKILL is expected).
func die(_ message: String) -> Never {
    FileHandle.standardError.write(Data("ledger-torture: \(message)\n".utf8))
    exit(1)
}

func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

let arguments = CommandLine.arguments
guard arguments.count == 3 else { die("usage: ledger-torture LEDGER_PATH ACCOUNT") }
let path = arguments[1]
let account = arguments[2]

// Only Gaussian charges are made here: ρ(α) = α / (2σ²).
let gaussianOnly: RdpCurveEvaluator = { event, orders in
    guard case .gaussian(let sigma) = event else {
        throw PrivacyError(.unsupportedEvent, "ledger-torture prices only gaussian events; found \(event)")
    }
    return orders.map { $0 / (2 * sigma * sigma) }
}

let store: LedgerStore
do {
    store = try LedgerStore(path: path, curveEvaluator: gaussianOnly)
} catch {
    die("open failed: \(error)")
}
say("ready")

let dataset = AdmissionRequest.Dataset(
    sha256: String(repeating: "ab", count: 32), spoolName: "torture.jsonl", recordCount: 1000)
while true {
    let jobID = UUID().uuidString
    // One job in three is a two-task job, so atomicity covers several charges.
    let charges: [AdmissionRequest.Charge] = Int.random(in: 0..<3) == 0
        ? [.init(task: "a", event: .gaussian(noiseMultiplier: 40)), .init(task: "b", event: .gaussian(noiseMultiplier: 60))]
        : [.init(event: .gaussian(noiseMultiplier: 50))]
    do {
        try store.admit(AdmissionRequest(
            jobID: jobID, account: account, dataset: dataset, strategy: "lora", charges: charges))
        say("admitted \(jobID) \(charges.count)")
        switch Int.random(in: 0..<10) {
        case 0: try store.fail(job: jobID, reason: "torture: simulated failure")
        case 1: try store.cancel(job: jobID, reason: "torture: simulated cancel")
        default: try store.commit(job: jobID)
        }
        say("finished \(jobID)")
    } catch {
        die("job \(jobID): \(error)")
    }
}
