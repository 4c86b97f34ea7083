// SPDX-License-Identifier: Apache-2.0
import Foundation
import Glibc
import Records
import TestSupport
import Testing

@Suite struct DatasetValidatorTests {
    static let labels = ["sentiment": ["negative", "positive"], "topic": ["world", "sports"]]
    static let policy = FixedIntakePolicy(
        knownBackbones: ["minilm-l6"], knownStrategies: ["lora", "bitfit"], knownAccounts: ["hospital-a"])

    static func manifest(_ text: String = "{}") throws -> Manifest {
        try Manifest.parse(
            Data(text.utf8),
            defaults: ManifestDefaults(
                account: "hospital-a", backbone: "minilm-l6", strategy: "lora", labels: labels,
                train: Manifest.Train(epochs: 1, expectedBatch: 2, lr: 1e-3, maxLen: 64, clip: 1, seed: 1)))
    }

    /// Lives as long as the test (each test gets its own suite value).
    private let directory: TemporaryDirectory

    init() throws {
        directory = try TemporaryDirectory()
    }

    static func record(_ output: String, task: String? = "sentiment", unit: String? = nil) -> String {
        var fields = [#""instruction": "Classify.""#, #""input": "some text""#, #""output": "\#(output)""#]
        if let task { fields.append(#""task": "\#(task)""#) }
        if let unit { fields.append(#""unit": "\#(unit)""#) }
        return "{" + fields.joined(separator: ", ") + "}"
    }

    private func validate(
        _ contents: Data, manifest: Manifest? = nil, policy: some IntakePolicy = policy,
        validator: DatasetValidator = DatasetValidator()
    ) throws -> DatasetSummary {
        let path = try directory.write("data-\(UUID().uuidString).jsonl", contents)
        return try validator.validate(path: path, manifest: manifest ?? Self.manifest(), policy: policy)
    }

    private func validate(_ lines: [String], manifest: Manifest? = nil) throws -> DatasetSummary {
        try validate(Data((lines.joined(separator: "\n") + "\n").utf8), manifest: manifest)
    }

    private func expectCode(
        _ code: IntakeError.Code, line: Int? = nil, sourceLocation: SourceLocation = #_sourceLocation,
        _ body: () throws -> DatasetSummary
    ) {
        let error = #expect(throws: IntakeError.self, sourceLocation: sourceLocation) { _ = try body() }
        #expect(error?.code == code, "\(error.map { "\($0)" } ?? "no error")", sourceLocation: sourceLocation)
        if let line { #expect(error?.line == line, sourceLocation: sourceLocation) }
    }

    @Test func summarizesAValidDataset() throws {
        let lines = [
            Self.record("positive", unit: "u1"), "", Self.record("negative", unit: "u2"),
            Self.record("world", task: "topic", unit: "u1"),
            #"{"messages": [{"role": "user", "content": "score?"}, {"role": "assistant", "content": "sports"}], "task": "topic", "unit": "u3"}"#,
        ]
        let bytes = Data((lines.joined(separator: "\n") + "\n").utf8)
        let summary = try validate(bytes)
        #expect(summary.recordCount == 4)
        #expect(summary.unitCount == 3)
        #expect(summary.privacyUnitCount == 4)
        #expect(summary.taskCounts == ["sentiment": 2, "topic": 2])
        #expect(summary.byteCount == bytes.count)
        #expect(summary.sha256 == SHA256.hexDigest(of: bytes))
        let perUnit = try validate(bytes, manifest: Self.manifest(#"{"privacy": {"unit": "unit"}}"#))
        #expect(perUnit.privacyUnitCount == 3)
    }

    @Test func aRecordWithoutTaskBelongsToTheOnlyDeclaredTask() throws {
        let manifest = try Self.manifest(#"{"labels": {"sentiment": ["negative", "positive"]}}"#)
        let summary = try validate([Self.record("positive", task: nil), Self.record("negative", task: nil)], manifest: manifest)
        #expect(summary.taskCounts == ["sentiment": 2])
    }

    @Test func generateNeedsNoLabels() throws {
        let manifest = try Self.manifest(#"{"objective": "generate", "labels": {}}"#)
        let summary = try validate([Self.record("anything at all", task: nil), Self.record("more")], manifest: manifest)
        #expect(summary.taskCounts == [DatasetSummary.untaskedKey: 1, "sentiment": 1])
    }

    @Test func byteLevelFaults() throws {
        let good = Self.record("positive")
        expectCode(.invalidUTF8, line: 2) {
            try validate(Data(good.utf8) + Data([0x0A, 0x7B, 0xFF, 0xFE, 0x7D, 0x0A]))
        }
        expectCode(.invalidJSON, line: 3) { try validate([good, good, "{not json}"]) }
        expectCode(.lineTooLong, line: 2) {
            try validate(Data("  \n\(good)\n".utf8), validator: DatasetValidator(maxLineLength: good.utf8.count - 1))
        }
        expectCode(.emptyDataset) { try validate(Data()) }
        expectCode(.emptyDataset) { try validate(Data("\n  \n\t\r\n".utf8)) }
        expectCode(.tooManyRecords, line: 4) {
            try validate(Data(([good, good, "", good, good].joined(separator: "\n")).utf8), validator: DatasetValidator(maxRecords: 2))
        }
    }

    /// A record's values are private: an error about a record names the line and the field,
    /// never what the record holds, since the message reaches the daemon's journal as well as
    /// the data owner's error file (DESIGN §7: no record contents in the logs).
    @Test func recordFaultsDoNotEchoTheRecord() throws {
        let good = Self.record("positive")
        let faulty = [
            #"{"messages": [{"role": "Zq7secret", "content": "x"}, {"role": "assistant", "content": "positive"}]}"#,
            Self.record("positive", task: "Zq7secret"),
            Self.record("Zq7secret"),
            #"{"instruction": "x", "output": Zq7secret}"#,
            #"{"instruction": "Zq7secret", "output": "positive" "task": "sentiment"}"#,
            #"{"instruction": "x", "output": "positive", "task": "sentiment", "unit": Zq7}"#,
            #"{"instruction": "Zq7secret\q", "output": "positive"}"#,
            #"{"instruction": "x", "output": "positive", "Zq7secret": 1, "Zq7secret": 2}"#,
        ]
        for line in faulty {
            let error = #expect(throws: IntakeError.self, "\(line)") { _ = try validate([good, line]) }
            let message = error?.message ?? ""
            #expect(error?.line == 2)
            #expect(!message.contains("Zq7") && !message.contains("'Z'") && !message.contains("\"Z\""), "\(message)")
        }
    }

    @Test func recordFaults() throws {
        let good = Self.record("positive")
        // A repeated key was read as its first value (other readers take the last).
        expectCode(.invalidJSON, line: 2) {
            try validate([good, #"{"instruction": "x", "output": "positive", "task": "sentiment", "output": "bogus"}"#])
        }
        expectCode(.invalidJSON, line: 1) {
            try validate([#"{"instruction": "x", "output": "positive", "task": "sentiment", "meta": [[[[[[[[1]]]]]]]]}"#, good])
        }
        expectCode(.missingField, line: 2) { try validate([good, #"{"instruction": "x", "task": "sentiment"}"#]) }
        expectCode(.notAnObject, line: 1) { try validate(["[1, 2]", good]) }
        expectCode(.unknownRole, line: 1) {
            try validate([#"{"messages": [{"role": "bot", "content": "x"}, {"role": "assistant", "content": "positive"}]}"#])
        }
        expectCode(.undeclaredLabel, line: 2) { try validate([good, Self.record("neutral")]) }
        expectCode(.undeclaredTask, line: 1) { try validate([Self.record("positive", task: "emotion"), good]) }
        expectCode(.undeclaredTask, line: 1) { try validate([Self.record("positive", task: nil), good]) }
        expectCode(.missingUnit, line: 2) {
            try validate(
                [Self.record("positive", unit: "u1"), Self.record("negative"), Self.record("positive", unit: "u2")],
                manifest: Self.manifest(#"{"privacy": {"unit": "unit"}}"#))
        }
    }

    @Test func theLabelOfARefusedRecordIsNotEchoed() throws {
        let error = #expect(throws: IntakeError.self) {
            _ = try validate([Self.record("private-secret-label")])
        }
        #expect(error?.message.contains("private-secret-label") == false)
    }

    @Test func deltaMustBeBelowOneOverN() throws {
        let records = (1...4).map { Self.record("positive", unit: "u\($0 % 2)") }
        // N = 4 records: δ = 0.2 < 1/4 is fine, δ = 0.25 is not.
        _ = try validate(records, manifest: Self.manifest(#"{"privacy": {"delta": 0.2}}"#))
        expectCode(.deltaTooLarge) { try validate(records, manifest: Self.manifest(#"{"privacy": {"delta": 0.25}}"#)) }
        // N = 2 units: δ = 0.2 < 1/2 is fine, δ = 0.5 is not.
        _ = try validate(records, manifest: Self.manifest(#"{"privacy": {"delta": 0.2, "unit": "unit"}}"#))
        expectCode(.deltaTooLarge) {
            try validate(records, manifest: Self.manifest(#"{"privacy": {"delta": 0.5, "unit": "unit"}, "train": {"expected_batch": 1}}"#))
        }
    }

    @Test func theExpectedBatchCannotExceedN() throws {
        expectCode(.invalidManifest) {
            try validate([Self.record("positive")], manifest: Self.manifest(#"{"privacy": {"delta": 0.1}, "train": {"expected_batch": 2}}"#))
        }
    }

    @Test func policyFaults() throws {
        let records = [Self.record("positive"), Self.record("negative")]
        expectCode(.unknownAccount) { try validate(records, manifest: Self.manifest(#"{"account": "hospital-b"}"#)) }
        expectCode(.unknownBackbone) { try validate(records, manifest: Self.manifest(#"{"backbone": "gpt-9"}"#)) }
        expectCode(.unknownStrategy) { try validate(records, manifest: Self.manifest(#"{"strategy": "full"}"#)) }
        let seen = LockedSummaries()
        let broke = FixedIntakePolicy(
            knownBackbones: ["minilm-l6"], knownStrategies: ["lora"], knownAccounts: ["hospital-a"]
        ) { account, manifest, dataset in
            seen.append(dataset)
            return "account \(account) has ε 0.5 left; this job needs ε \(manifest.privacy.epsilon)"
        }
        let error = #expect(throws: IntakeError.self) {
            _ = try validate(Data((records.joined(separator: "\n")).utf8), policy: broke)
        }
        #expect(error?.code == .budgetExhausted)
        #expect(error?.message.contains("ε 0.5 left") == true)
        #expect(seen.values.map(\.recordCount) == [2])
    }

    @Test func aSymlinkOrFIFOIsNotRead() throws {
        let link = directory.url.appendingPathComponent("link.jsonl").path
        #expect(symlink("/etc/passwd", link) == 0)
        expectCode(.notARegularFile) { try DatasetValidator().validate(path: link, manifest: Self.manifest(), policy: Self.policy) }
        let fifo = directory.url.appendingPathComponent("fifo.jsonl").path
        #expect(mkfifo(fifo, 0o600) == 0)
        expectCode(.notARegularFile) { try DatasetValidator().validate(path: fifo, manifest: Self.manifest(), policy: Self.policy) }
    }

    /// A 100 MB line on disk is refused after reading about 1 MB of it, in bounded memory.
    @Test func aHundredMegabyteLineIsRefusedInBoundedMemory() throws {
        let path = directory.url.appendingPathComponent("huge.jsonl").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data((Self.record("positive") + "\n").utf8)))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        let block = Data(repeating: UInt8(ascii: "x"), count: 1 << 20)
        for _ in 0..<100 { try handle.write(contentsOf: block) }
        try handle.close()
        var status = stat()
        #expect(stat(path, &status) == 0 && status.st_size > 100 << 20)
        #expect(status.st_blocks * 512 >= 100 << 20, "the line must be real bytes, not a sparse hole")

        let before = try Self.peakResidentBytes()
        let error = #expect(throws: IntakeError.self) {
            _ = try DatasetValidator(maxLineLength: 1 << 20).validate(path: path, manifest: Self.manifest(), policy: Self.policy)
        }
        #expect(error?.code == .lineTooLong)
        #expect(error?.line == 2)
        let growth = try Self.peakResidentBytes() - before
        #expect(growth < 32 << 20, "peak resident memory grew by \(growth) bytes")
    }

    /// The high-water mark of this process's resident memory (VmHWM).
    static func peakResidentBytes() throws -> Int {
        let status = try String(contentsOfFile: "/proc/self/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") })
        let kilobytes = try #require(Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]))
        return kilobytes * 1024
    }

    /// The first 500 records of each shared task, validated against the labels of tasks.json.
    @Test(.disabled(if: SharedFixtures.mayBeSkipped, Comment(rawValue: SharedFixtures.skipMessage)))
    func realDataValidatesWithTheSharedLabels() throws {
        let tasks = try #require(SharedFixtures.json("data/tasks.json") as? [String: [String: Any]])
        let labels = try tasks.mapValues { try #require($0["labels"] as? [String]) }
        var bytes = Data()
        for task in labels.keys.sorted() {
            let text = try String(contentsOf: SharedFixtures.url("data/\(task)/train.jsonl"), encoding: .utf8)
            for line in text.split(separator: "\n").prefix(500) { bytes += Data((line + "\n").utf8) }
        }
        let manifest = try Manifest.parse(
            Data(#"{"privacy": {"delta": 1e-5}, "train": {"expected_batch": 64}}"#.utf8),
            defaults: ManifestDefaults(account: "hospital-a", backbone: "minilm-l6", strategy: "lora", labels: labels))
        let summary = try validate(bytes, manifest: manifest)
        #expect(summary.recordCount == 2000)
        #expect(summary.taskCounts == ["intent": 500, "question": 500, "sentiment": 500, "topic": 500])
        #expect(summary.sha256 == SHA256.hexDigest(of: bytes))
    }
}

/// Collects what the budget closure saw, across the validator's `@Sendable` boundary.
final class LockedSummaries: Sendable {
    private let lock = NSLock()
    nonisolated(unsafe) private var stored: [DatasetSummary] = []

    func append(_ summary: DatasetSummary) { lock.withLock { stored.append(summary) } }
    var values: [DatasetSummary] { lock.withLock { stored } }
}
