// SPDX-License-Identifier: Apache-2.0
import Records
import Spool
import Testing

@Suite struct SpoolNameTests {
    @Test func datasetsAndManifests() throws {
        #expect(try SpoolName("reviews.jsonl") == .dataset(stem: "reviews"))
        #expect(try SpoolName("reviews.manifest.json") == .manifest(stem: "reviews"))
        #expect(try SpoolName("user data v2.jsonl").manifestName == "user data v2.manifest.json")
        #expect(try SpoolName("reviews.manifest.json").datasetName == "reviews.jsonl")
        #expect(try SpoolName("données-é.jsonl").stem == "données-é")
    }

    @Test(arguments: [
        "", "a/b.jsonl", "../up.jsonl", "a..b.jsonl", "..", ".", ".hidden.jsonl", "tab\there.jsonl",
        "new\nline.jsonl", "bell\u{7}.jsonl", "del\u{7F}.jsonl", "c1\u{85}.jsonl", "bad\u{FFFD}.jsonl",
        "notes.txt", "data.json", "data.jsonl.gz", ".jsonl", ".manifest.json",
        String(repeating: "x", count: 201) + ".jsonl",
    ])
    func unsafeNamesAreRefused(name: String) {
        let error = #expect(throws: IntakeError.self) { try SpoolName(name) }
        #expect(error?.code == .unsafePath)
        #expect(error?.message.contains("\n") == false, "messages escape control characters")
    }
}
