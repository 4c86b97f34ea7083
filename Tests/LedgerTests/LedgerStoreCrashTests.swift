// SPDX-License-Identifier: Apache-2.0
import Foundation
import GRDB
import Ledger
import Testing

/// kill -9 at random moments: the ledger must open, pass its integrity checks, and hold
/// every job the killed writer was told was admitted, each with all of its charges.
@Suite struct LedgerStoreCrashTests {
    /// `ledger-torture`, built beside the test bundle.
    static func tortureBinary() throws -> URL {
        let test = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let binary = URL(fileURLWithPath: test).deletingLastPathComponent().appendingPathComponent("ledger-torture")
        try #require(
            FileManager.default.isExecutableFile(atPath: binary.path),
            "\(binary.path) is missing: build it with `swift build --build-tests` (product ledger-torture)")
        return binary
    }

    /// What the child said before it died.
    struct ChildReport {
        var admitted: [(job: String, charges: Int)] = []
        var finished: [String] = []
        var ready = false

        init(_ text: String) {
            for line in text.split(separator: "\n") {
                let words = line.split(separator: " ").map(String.init)
                switch (words.first, words.count) {
                case ("ready", 1): ready = true
                case ("admitted", 3): if let count = Int(words[2]) { admitted.append((words[1], count)) }
                case ("finished", 2): finished.append(words[1])
                default: break
                }
            }
        }
    }

    @Test(.timeLimit(.minutes(3))) func killedWriterLeavesEveryAdmittedJobWithExactlyItsCharges() throws {
        let ledger = try TemporaryLedger()
        do { _ = try ledger.open(accounts: "[accounts.torture]\nepsilon = 1e9\ndelta = 1e-5\n") }
        let binary = try Self.tortureBinary()
        let kills = 200
        var toldAdmitted: [String: Int] = [:]
        var toldFinished = Set<String>()
        var killsMidJob = 0, killsBeforeReady = 0, killsAfterWork = 0, recovered = 0
        let started = Date()

        for iteration in 0..<kills {
            let child = Process()
            child.executableURL = binary
            child.arguments = [ledger.path, "torture"]
            let output = Pipe(), errors = Pipe()
            child.standardOutput = output
            child.standardError = errors
            try child.run()
            var text = ""
            if iteration % 4 == 3 {
                // Sometimes kill while the child is still starting or checking the file.
                usleep(UInt32.random(in: 0...40_000))
            } else {
                while !text.contains("ready\n") {
                    let chunk = output.fileHandleForReading.availableData
                    if chunk.isEmpty { break }
                    text += String(decoding: chunk, as: UTF8.self)
                }
                usleep(UInt32.random(in: 0...50_000))
            }
            kill(child.processIdentifier, SIGKILL)
            child.waitUntilExit()
            text += String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let complaint = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            try #require(
                child.terminationReason == .uncaughtSignal && child.terminationStatus == SIGKILL,
                "iteration \(iteration): the child ended by itself (status \(child.terminationStatus)): \(complaint)")

            let report = ChildReport(text)
            if !report.ready { killsBeforeReady += 1 }
            if !report.admitted.isEmpty { killsAfterWork += 1 }
            for (job, charges) in report.admitted { toldAdmitted[job] = charges }
            toldFinished.formUnion(report.finished)
            if let last = report.admitted.last, !report.finished.contains(last.job) { killsMidJob += 1 }

            // The store opens only if the file and every invariant check pass.
            let store = try LedgerStore(path: ledger.path, curveEvaluator: ClosedFormRDP.evaluator)
            let chargesPerJob = try DatabaseQueue(path: ledger.path).read { db in
                try Row.fetchAll(db, sql: """
                    SELECT j.id, j.state, count(c.id) AS n, group_concat(ifnull(c.task, '-'), ',') AS tasks,
                           sum(c.state = 'committed') AS committed
                    FROM jobs j LEFT JOIN charges c ON c.job_id = j.id GROUP BY j.id
                    """).map { row -> (String, (state: String, count: Int, tasks: Set<String>, committed: Int)) in
                    let tasks: String = row["tasks"] ?? ""
                    return (row["id"], (row["state"], row["n"], Set(tasks.split(separator: ",").map(String.init)), row["committed"] ?? 0))
                }
            }
            let jobs = Dictionary(uniqueKeysWithValues: chargesPerJob)
            for (job, info) in jobs {
                let oneCharge = info.count == 1 && info.tasks == ["-"]
                let perTask = info.count == 2 && info.tasks == ["a", "b"]
                try #require(oneCharge || perTask, "iteration \(iteration): job \(job) has charges \(info)")
            }
            for (job, charges) in toldAdmitted {
                let info = try #require(jobs[job], "iteration \(iteration): admitted job \(job) is gone")
                try #require(info.count == charges, "iteration \(iteration): job \(job) has \(info.count) of \(charges) charges")
            }
            for job in toldFinished {
                let info = try #require(jobs[job])
                try #require(info.state != "admitted" && info.committed == info.count, "iteration \(iteration): finished job \(job) is \(info)")
            }
            // Jobs written but not reported: killed between the commit and the line.
            try #require(jobs.count - toldAdmitted.count <= iteration + 1)

            // As the daemon does at start-up: an interrupted job is failed, keeping its charges.
            for job in try store.unfinishedJobs() {
                try store.fail(job: job.id, reason: "interrupted by kill -9")
                recovered += 1
            }
        }
        let seconds = Date().timeIntervalSince(started)
        print("ledger crash test: \(kills) kills in \(String(format: "%.1f", seconds)) s; \(toldAdmitted.count) jobs admitted; after work \(killsAfterWork)×, mid-job \(killsMidJob)×, before ready \(killsBeforeReady)×; \(recovered) interrupted jobs failed on recovery")
        #expect(killsAfterWork >= kills / 5, "the child did too little work for the kills to matter")
        #expect(killsMidJob > 0)
    }
}
