// SPDX-License-Identifier: Apache-2.0
import Control
import Foundation
import Glibc
import Testing
import TestSupport

/// Hot swap of a real training plugin (DESIGN §5.3), end to end: a real `dptuned` trains
/// with the bundled LoRA build, which is replaced while the job runs by `LoRANext` (the same
/// strategy reporting another version). No restart in between.
@Suite(.serialized, .disabled(if: SharedFixtures.mayBeSkipped, Comment(rawValue: SharedFixtures.skipMessage)))
struct PluginSwapEndToEndTests {
    static let bundledVersion = "1.0.0"
    static let nextVersion = "1.1.0-test"

    @Test(.timeLimit(.minutes(2)))
    func aRunningJobFinishesOnItsBuildAndTheNextJobUsesTheNewOne() async throws {
        let world = try TrainingWorld(plugin: "LoRA", strategy: "lora")
        try await world.start()
        defer { world.stop() }
        let daemon = try #require(world.daemon)

        try world.drop("before", records: 120, epochs: 2, batch: 16)
        let first = try await world.jobID(of: "before")
        var events = world.events(of: first).makeAsyncIterator()
        while let event = try await events.next(), !(event.state == .running && event.step >= 1) {
            try #require(!event.state.isFinal, "job \(first) ended before its first step: \(event)")
        }
        let worker = try #require(try world.workerProcesses(of: first).first, "no worker for \(first)")

        // The worker is held between two of its steps while the build is replaced, so the
        // swap certainly lands while the job runs.
        #expect(kill(worker, SIGSTOP) == 0)
        let swapped: [PluginSummary]?
        do {
            defer { kill(worker, SIGCONT) }
            try world.replacePlugin(with: "LoRANext")
            swapped = try await world.plugins { rows in
                rows.contains { $0.id == "lora" && $0.state == .current && $0.version == Self.nextVersion }
            }
        }
        let rows = try #require(swapped, "the new build never became current; stderr: \(world.output.text)")
        let lora = rows.filter { $0.id == "lora" }
        // `plugins` shows both builds while both are in use: the running job under the old one.
        #expect(lora.first { $0.state == .retired }?.version == Self.bundledVersion, "rows: \(rows)")
        #expect(lora.first { $0.state == .retired }?.jobs == [first], "rows: \(rows)")
        #expect(lora.first { $0.state == .current }?.jobs == [], "rows: \(rows)")

        try world.drop("after", records: 120, epochs: 1, batch: 16)
        let second = try await world.jobID(of: "after")
        var last: ProgressEvent?
        while let event = try await events.next() { last = event }
        #expect(last?.state == .succeeded, "job \(first): \(String(describing: last))\nstderr: \(world.output.text)")
        let ended = try await world.waitUntilEnded(second)
        #expect(ended["state"] as? String == "succeeded", "job: \(ended)\nstderr: \(world.output.text)")

        // Each job's record and model card name the build that trained it.
        let firstRecord = try await world.waitUntilEnded(first)
        #expect(firstRecord["strategy_version"] as? String == Self.bundledVersion, "job: \(firstRecord)")
        #expect(ended["strategy_version"] as? String == Self.nextVersion, "job: \(ended)")
        let firstCard = try world.modelCard(of: first), secondCard = try world.modelCard(of: second)
        #expect((firstCard["strategy"] as? [String: Any])?["version"] as? String == Self.bundledVersion)
        #expect((secondCard["strategy"] as? [String: Any])?["version"] as? String == Self.nextVersion)
        // The daemon's log traces each job to the exact build its worker loaded.
        let started = world.output.text.split(separator: "\n").filter { $0.contains("worker started") }
        #expect(started.contains { $0.contains("dptune.job=\(first)") && $0.contains("dptune.plugin=lora@\(Self.bundledVersion)#") })
        #expect(started.contains { $0.contains("dptune.job=\(second)") && $0.contains("dptune.plugin=lora@\(Self.nextVersion)#") })
        for id in [first, second] {
            let charges = try await world.charges(of: id)
            #expect(charges.count == 1, "charges of \(id): \(charges)")
            #expect(charges.allSatisfy { $0["state"] as? String == "committed" })
        }
        // The old build is forgotten once no job uses it; the daemon never restarted.
        let settled = try await world.plugins { rows in rows.filter { $0.id == "lora" }.count == 1 }
        #expect(settled?.first { $0.id == "lora" }?.version == Self.nextVersion)
        #expect(daemon.isRunning && world.daemon === daemon)
    }
}
