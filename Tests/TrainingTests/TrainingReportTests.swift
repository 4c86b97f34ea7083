// SPDX-License-Identifier: Apache-2.0
import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
@testable import Training

/// A published report as its reader sees it: the held-out table's rows and the drawing.
struct TrainingReportFiles {
    let html: String
    let svg: String

    init(directory: URL) throws {
        html = try String(contentsOf: directory.appendingPathComponent(AdapterArtifacts.reportHTMLFile), encoding: .utf8)
        svg = try String(contentsOf: directory.appendingPathComponent(AdapterArtifacts.reportSVGFile), encoding: .utf8)
    }

    /// The held-out table's rows, each its cells' text.
    var rows: [[String]] {
        html.split(separator: "\n").filter { $0.hasPrefix("<tr><td>") }.map { row in
            row.replacingOccurrences(of: "<tr><td>", with: "").replacingOccurrences(of: "</td></tr>", with: "")
                .components(separatedBy: "</td><td>")
        }
    }

    var evaluationSteps: [Int] { rows.compactMap { $0.first.flatMap { Int($0) } } }
    var lastAccuracy: [String] { Array(rows.last?.dropFirst() ?? []) }
    var polylineCount: Int { svg.components(separatedBy: "<polyline").count - 1 }
    var svgIsWellFormed: Bool { XMLParser(data: Data(svg.utf8)).parse() }
}

struct TrainingReportTests {
    func card(jobID: String) -> ModelCard {
        ModelCard(
            format: ModelCard.currentFormat, jobID: jobID, createdAt: "2026-12-07T00:00:00Z",
            backbone: .init(id: "minilm-l6", parameters: 22_713_216),
            strategy: .init(id: "lora", version: "1.0.0", options: "{}"), trainableParameters: 10, trainablePercent: 0.01,
            privacy: .init(epsilon: 3, targetEpsilon: 3, delta: 1e-5, unit: "record", adjacency: "add_or_remove_one",
                           accountant: "pld", mechanism: "dp-sgd", noiseMultiplier: 1, samplingRate: 0.1, steps: 3, clip: 1,
                           populationSize: 100, datasetSizeIsPublic: true, hyperparametersTuned: false,
                           event: .gaussian(noiseMultiplier: 1)),
            evaluation: .init(split: "held_out", records: 10, accuracy: [:]),
            training: .init(objective: "classify", labels: [:], epochs: 1, expectedBatch: 10, learningRate: 0.01,
                            maxLength: 64, seed: 1),
            ledgerCharge: nil)
    }

    @Test func evaluatesAtEachQuarterAndEachEpochsEnd() {
        #expect(TrainingHistory.evaluationSteps(totalSteps: 12, epochs: 2) == [3, 6, 9, 12])
        #expect(TrainingHistory.evaluationSteps(totalSteps: 100, epochs: 10) == Set([25, 50, 75] + (1...10).map { $0 * 10 }))
        #expect(TrainingHistory.evaluationSteps(totalSteps: 3, epochs: 1) == [1, 2, 3])
        #expect(TrainingHistory.evaluationSteps(totalSteps: 1, epochs: 1) == [1])
        #expect(TrainingHistory.evaluationSteps(totalSteps: 0, epochs: 1).isEmpty)
        #expect(TrainingHistory.evaluationSteps(totalSteps: 5, epochs: 1_000_000).count == 5)
        // Past 16 epochs, every k-th epoch's end and the last; the set stays small for any count.
        #expect(TrainingHistory.evaluationSteps(totalSteps: 200, epochs: 20) == Set([50, 100, 150] + (1...10).map { $0 * 20 }))
        #expect(TrainingHistory.evaluationSteps(totalSteps: 45_000_000_000, epochs: 10_000_000_000).count <= 21)
    }

    /// A long run's line is thinned to at most the drawn maximum (plus its last point,
    /// which is where the run ended); a short one is drawn whole.
    @Test func longLinesAreThinnedKeepingTheLastPoint() {
        let long = (1...123_457).map { (step: $0, value: Double($0)) }
        let thinned = StepChart.thinned(long)
        #expect(thinned.count <= StepChart.maximumDrawnPoints + 1)
        #expect(thinned.first?.step == 1 && thinned.last?.step == 123_457)
        let short = (1...10).map { (step: $0, value: 0.5) }
        #expect(StepChart.thinned(short).map(\.step) == Array(1...10))
    }

    /// Names from a manifest (tasks, the job id) are text in the page, never markup; a
    /// diverged loss is left out of the drawing instead of making it unreadable.
    @Test func namesAreEscapedAndNonFiniteValuesLeftOut() throws {
        var history = TrainingHistory()
        history.steps = [.init(step: 1, loss: 0.7, epsilon: 1), .init(step: 2, loss: .nan, epsilon: 2),
                         .init(step: 3, loss: .infinity, epsilon: 3)]
        history.evaluations = [.init(step: 3, accuracy: ["<script>alert(1)</script>": 0.5, "b&c": 1])]
        let report = TrainingReport(history: history, card: card(jobID: "j-<1>"))
        #expect(!report.html.contains("<script>"))
        #expect(report.html.contains("&lt;script&gt;") && report.html.contains("b&amp;c") && report.html.contains("j-&lt;1&gt;"))
        #expect(XMLParser(data: Data(report.svg.utf8)).parse())
        #expect(!report.svg.contains("nan") && !report.svg.contains("inf"))
    }

    /// A checkpoint keeps a history with a diverged loss, and reads it back as it was.
    @Test func aCheckpointKeepsANonFiniteLoss() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var history = TrainingHistory()
        history.steps = [.init(step: 1, loss: .nan, epsilon: .infinity)]
        let checkpoint = TrainingCheckpoint(jobID: "j", step: 1, plannedSteps: 2, parameterCount: 1, noiseMultipliers: [1],
                                            noiseSteps: [1], strategy: "s@1", history: history)
        let url = directory.appendingPathComponent("c.checkpoint")
        try [Float(0)].withUnsafeBufferPointer { parameters in
            try checkpoint.write(parameters: parameters, optimizer: AdamW.State(step: 1, firstMoment: [0], secondMoment: [0]),
                                 to: url)
        }
        let read = try TrainingCheckpoint.read(from: url).checkpoint
        #expect(read.history?.steps.first?.loss.isNaN == true && read.history?.steps.first?.epsilon == .infinity)
    }
}
