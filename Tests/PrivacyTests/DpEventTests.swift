// SPDX-License-Identifier: Apache-2.0
import Foundation
import Privacy
import Testing

@Suite struct DpEventTests {
    @Test func jsonRoundTripAndStableForm() throws {
        let event = DpEvent.composed([
            .poissonSampled(probability: 0.01, event: .gaussian(noiseMultiplier: 1.1)).repeated(100),
            .randomizedResponse(k: 4, epsilon: 2), .noOp, .nonPrivate, .unsupported(reason: "x"),
        ])
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let data = try encoder.encode(event)
        #expect(try JSONDecoder().decode(DpEvent.self, from: data) == event)
        let gaussian = String(decoding: try encoder.encode(DpEvent.gaussian(noiseMultiplier: 2)), as: UTF8.self)
        #expect(gaussian == #"{"gaussian":{"noise_multiplier":2}}"#)
    }

    @Test func rejectsUnknownCase() {
        let data = Data(#"{"laplace":{"scale":1}}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(DpEvent.self, from: data) }
    }
}
