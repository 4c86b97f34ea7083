// SPDX-License-Identifier: Apache-2.0
import Daemon
import Logging
import Testing
import TestSupport

@Suite struct JournalLogHandlerTests {
    /// Parses the journal's native datagram back into fields (both encodings).
    private func fields(_ bytes: [UInt8]) -> [String: String] {
        var result: [String: String] = [:]
        var i = 0
        while i < bytes.count {
            guard let end = bytes[i...].firstIndex(of: UInt8(ascii: "\n")) else { break }
            let line = bytes[i..<end]
            if let eq = line.firstIndex(of: UInt8(ascii: "=")) {
                result[String(decoding: line[..<eq], as: UTF8.self)] = String(decoding: line[(eq + 1)...], as: UTF8.self)
                i = end + 1
            } else {
                let key = String(decoding: line, as: UTF8.self)
                var length: UInt64 = 0
                for k in 0..<8 { length |= UInt64(bytes[end + 1 + k]) << (8 * UInt64(k)) }
                let start = end + 9
                result[key] = String(decoding: bytes[start..<(start + Int(length))], as: UTF8.self)
                i = start + Int(length) + 1
            }
        }
        return result
    }

    @Test func writesStructuredFields() throws {
        let sink = try DatagramSink()
        var logger = Logger(label: "dptuned") { JournalLogHandler(label: $0, socketPath: sink.path) }
        logger[metadataKey: "dptune.job"] = "job-7"
        logger.warning("step failed\nsecond line", metadata: ["dptune.account": "hospital-a", "dptune.strategy": "lora"])
        let entry = fields(try #require(sink.receive()))
        #expect(entry["MESSAGE"] == "step failed\nsecond line")
        #expect(entry["PRIORITY"] == "4")
        #expect(entry["SYSLOG_IDENTIFIER"] == "dptuned")
        #expect(entry["JOB_ID"] == "job-7")
        #expect(entry["DPTUNE_JOB"] == "job-7")
        #expect(entry["ACCOUNT"] == "hospital-a")
        #expect(entry["STRATEGY"] == "lora")
    }

    @Test func belowLevelIsNotSent() throws {
        let sink = try DatagramSink()
        let logger = Logger(label: "dptuned") { JournalLogHandler(label: $0, socketPath: sink.path) }
        logger.debug("hidden")
        #expect(sink.receive(timeoutMilliseconds: 200) == nil)
    }
}
