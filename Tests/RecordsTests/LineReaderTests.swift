// SPDX-License-Identifier: Apache-2.0
import Foundation
import Glibc
import Records
import TestSupport
import Testing

@Suite struct LineReaderTests {
    /// Lives as long as the test (each test gets its own suite value).
    private let directory: TemporaryDirectory

    init() throws {
        directory = try TemporaryDirectory()
    }

    private func readLines(of text: String, maxLineLength: Int = 100, chunkSize: Int = 4) throws -> ([String], LineReader) {
        let path = try directory.write("data-\(UUID().uuidString).jsonl", text)
        let descriptor = open(path, O_RDONLY)
        try #require(descriptor >= 0)
        defer { close(descriptor) }
        let reader = LineReader(fileDescriptor: descriptor, maxLineLength: maxLineLength, chunkSize: chunkSize)
        var lines: [String] = []
        while let line = try reader.next() {
            #expect(line.number == lines.count + 1)
            lines.append(String(decoding: line.bytes, as: UTF8.self))
        }
        return (lines, reader)
    }

    @Test func splitsAcrossChunksAndKeepsALastLineWithoutNewline() throws {
        let text = "first line\n\nthird, a longer line than one chunk\nlast"
        let (lines, reader) = try readLines(of: text)
        #expect(lines == ["first line", "", "third, a longer line than one chunk", "last"])
        #expect(reader.byteCount == text.utf8.count)
        #expect(reader.sha256 == SHA256.hexDigest(of: Array(text.utf8)))
    }

    @Test func emptyFileHasNoLines() throws {
        let (lines, reader) = try readLines(of: "")
        #expect(lines.isEmpty)
        #expect(reader.sha256 == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func aLineOverTheLimitIsRefusedWithItsNumberAndNeverHeldWhole() throws {
        let long = String(repeating: "x", count: 1000)
        let error = #expect(throws: IntakeError.self) { try readLines(of: "ok\n\(long)\nafter\n", maxLineLength: 64) }
        #expect(error?.code == .lineTooLong)
        #expect(error?.line == 2)
        let exact = String(repeating: "y", count: 64)
        let (lines, reader) = try readLines(of: "\(exact)\n", maxLineLength: 64)
        #expect(lines == [exact])
        #expect(reader.peakLineBytes == 64)
    }
}
