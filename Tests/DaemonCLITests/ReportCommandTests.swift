// SPDX-License-Identifier: Apache-2.0
import Control
import Foundation
import TestSupport
import Testing

@Suite struct ReportCommandTests {
    /// The lines `dptunectl report` prints for a succeeded job whose adapter is `adapter`.
    private func report(of adapter: TemporaryDirectory) async throws -> [String] {
        try await CLIFixture.with { fixture in
            var detail = FakeControlHandler.detail
            detail.summary.state = .succeeded
            detail.summary.adapterPath = adapter.path
            fixture.handler.setDetail(detail)
            let result = try await fixture.run("report", "job-1")
            #expect(result.status == 0)
            #expect(fixture.handler.received.map(\.request) == [.job(id: "job-1")])
            return CLIFixture.lines(result.standardOutput)
        }
    }

    @Test func namesThePublishedFilesThatExist() async throws {
        let adapter = try TemporaryDirectory(prefix: "dptunectl-adapter")
        let card = try adapter.write("model_card.json", "{}")
        let lines = try await report(of: adapter)
        #expect(lines.contains("adapter     \(adapter.path)"))
        #expect(lines.contains("model card  \(card)"))
        #expect(!lines.contains { $0.hasPrefix("report ") })
    }

    /// A training job publishes its report beside the card (DESIGN §3.5): both forms named.
    @Test func namesTheReportBesideTheCard() async throws {
        let adapter = try TemporaryDirectory(prefix: "dptunectl-adapter")
        let card = try adapter.write("model_card.json", "{}")
        let page = try adapter.write("report.html", "<html></html>")
        let drawing = try adapter.write("report.svg", "<svg/>")
        let lines = try await report(of: adapter)
        #expect(lines.suffix(3) == ["model card      \(card)", "report          \(page)", "report drawing  \(drawing)"])
    }

    @Test func saysWhyThereAreNoArtifactsYet() async throws {
        try await CLIFixture.with { fixture in
            let result = try await fixture.run("report", "job-1")
            #expect(result.status == 0)
            #expect(CLIFixture.lines(result.standardOutput).last == "artifacts   none (job running)")
        }
    }
}
