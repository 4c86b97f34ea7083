// SPDX-License-Identifier: Apache-2.0
import AdapterKit
import Foundation
import Testing

@Suite struct StrategyOptionsTests {
    static let schema = [
        StrategyOption(name: "rank", kind: .integer, defaultJSON: "16", help: ""),
        StrategyOption(name: "alpha", kind: .number, defaultJSON: "0.005", help: ""),
        StrategyOption(name: "projection", kind: .string, defaultJSON: #""principal""#, help: ""),
        StrategyOption(name: "modules", kind: .stringList, defaultJSON: "[]", help: ""),
        StrategyOption(name: "weights", kind: .numberMap, defaultJSON: "{}", help: ""),
        StrategyOption(name: "frozen", kind: .boolean, defaultJSON: "false", help: ""),
    ]

    /// The resolved form names every option, given or defaulted, and reads back to the
    /// same values under the same schema.
    @Test func resolvedJSONRecordsEveryOptionAndReadsBack() throws {
        let given = #"{"rank": 8, "modules": ["query", "value"], "weights": {"intent": 2.5}, "frozen": true}"#
        let options = try StrategyOptions(json: given, schema: Self.schema)
        #expect(options.defaultedNames == ["alpha", "projection"])
        let resolved = options.resolvedJSON
        let object = try #require(try JSONSerialization.jsonObject(with: Data(resolved.utf8)) as? [String: Any])
        #expect(Set(object.keys) == Set(Self.schema.map(\.name)))
        let again = try StrategyOptions(json: resolved, schema: Self.schema)
        #expect(again.defaultedNames.isEmpty)
        #expect(try again.integer("rank") == 8)
        #expect(try again.number("alpha") == 0.005)
        #expect(try again.string("projection") == "principal")
        #expect(try again.stringList("modules") == ["query", "value"])
        #expect(try again.numberMap("weights") == ["intent": 2.5])
        #expect(try again.boolean("frozen"))
        #expect(again.resolvedJSON == resolved)
    }
}
