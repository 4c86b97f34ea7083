// SPDX-License-Identifier: Apache-2.0
import Foundation
import Glibc
import Records
import Spool
import TestSupport
import Testing

@Suite struct SpoolIntakeTests {
    /// One crafted input: a file name, its bytes, an optional manifest, and the code it must get.
    struct Case: Sendable, CustomTestStringConvertible {
        let code: IntakeError.Code
        let name: String
        let dataset: Data
        let manifest: String?
        var testDescription: String { "\(code) (\(name))" }

        init(_ code: IntakeError.Code, _ name: String = "data.jsonl", lines: [String], manifest: String? = nil) {
            self.init(code, name, bytes: Data(lines.map { $0 + "\n" }.joined().utf8), manifest: manifest)
        }

        init(_ code: IntakeError.Code, _ name: String = "data.jsonl", bytes dataset: Data, manifest: String? = nil) {
            self.code = code
            self.name = name
            self.dataset = dataset
            self.manifest = manifest
        }
    }

    static func record(_ output: String = "positive", task: String = "sentiment") -> String {
        #"{"instruction": "Classify.", "input": "a fine film", "output": "\#(output)", "task": "\#(task)"}"#
    }

    static let good: [String] = Array(repeating: record(), count: 4)

    static func goodThen(_ line: String) -> [String] { good + [line] }

    static let cases: [Case] = [
        Case(.invalidUTF8, bytes: Data((record() + "\n").utf8) + Data([0x7B, 0xC3, 0x28, 0x7D, 0x0A])),
        Case(.invalidJSON, lines: goodThen(#"{"instruction": "x", "output": "positive""#)),
        Case(.lineTooLong, lines: goodThen(String(repeating: " ", count: 5000) + record())),
        Case(.emptyDataset, bytes: Data()),
        Case(.emptyDataset, bytes: Data("\n\n   \n".utf8)),
        Case(.notAnObject, lines: goodThen(#"["positive"]"#)),
        Case(.missingField, lines: goodThen(#"{"instruction": "Classify.", "task": "sentiment"}"#)),
        Case(.invalidField, lines: goodThen(#"{"instruction": "Classify.", "output": 1, "task": "sentiment"}"#)),
        Case(.unknownRole, lines: [
            #"{"messages": [{"role": "narrator", "content": "x"}, {"role": "assistant", "content": "positive"}], "task": "sentiment"}"#,
        ]),
        Case(.missingAssistantMessage, lines: [#"{"messages": [{"role": "user", "content": "x"}], "task": "sentiment"}"#]),
        Case(.undeclaredLabel, lines: goodThen(record("neutral"))),
        Case(.undeclaredTask, lines: goodThen(record("positive", task: "emotion"))),
        Case(.tooManyRecords, lines: Array(repeating: record(), count: 51)),
        Case(.missingUnit, lines: good, manifest: #"{"privacy": {"unit": "unit"}}"#),
        Case(.deltaTooLarge, lines: good, manifest: #"{"privacy": {"delta": 0.3}}"#),
        Case(.invalidManifest, lines: good, manifest: #"{"privacy": {"epsilom": 1}}"#),
        Case(.invalidManifest, lines: good, manifest: #"{"privacy": "#),
        Case(.unknownStrategy, lines: good, manifest: #"{"strategy": "full-finetune"}"#),
        Case(.unknownBackbone, lines: good, manifest: #"{"backbone": "gpt-5"}"#),
        Case(.unknownAccount, lines: good, manifest: #"{"account": "hospital-z"}"#),
        Case(.budgetExhausted, lines: good, manifest: #"{"privacy": {"epsilon": 50}}"#),
        Case(.unsafePath, "notes.txt", lines: good),
        Case(.unsafePath, ".hidden.jsonl", lines: good),
        Case(.unsafePath, "a..b.jsonl", lines: good),
        Case(.unsafePath, "tab\tname.jsonl", lines: good),
    ]

    private let directory: TemporaryDirectory
    private let spool: SpoolDirectory
    private let intake: SpoolIntake

    init() throws {
        directory = try TemporaryDirectory()
        spool = try SpoolDirectory(root: directory.url)
        let policy = FixedIntakePolicy(
            knownBackbones: ["minilm-l6"], knownStrategies: ["lora"], knownAccounts: ["hospital-a"]
        ) { account, manifest, _ in
            manifest.privacy.epsilon > 10 ? "account \(account) has ε 10 left; asked for \(manifest.privacy.epsilon)" : nil
        }
        let defaults = ManifestDefaults(
            account: "hospital-a", backbone: "minilm-l6", strategy: "lora",
            labels: ["sentiment": ["negative", "positive"]],
            privacy: Manifest.Privacy(epsilon: 4, delta: 1e-3, unit: .record, accountant: .rdp),
            train: Manifest.Train(epochs: 1, expectedBatch: 2, lr: 1e-3, maxLen: 64, clip: 1, seed: 3))
        intake = SpoolIntake(
            spool: spool, validator: DatasetValidator(maxLineLength: 4096, maxRecords: 50), defaults: defaults,
            policy: policy)
    }

    private func file(_ folder: SpoolDirectory.Folder, _ name: String) -> Data? {
        FileManager.default.contents(atPath: spool.url(of: folder).appendingPathComponent(name).path)
    }

    private func put(_ name: String, _ data: Data) {
        #expect(FileManager.default.createFile(atPath: spool.url(of: .incoming).appendingPathComponent(name).path, contents: data))
    }

    @Test(arguments: cases)
    func eachFaultEndsInRejectedWithItsCodeAndUnchangedBytes(_ input: Case) throws {
        if let manifest = input.manifest { put("data.manifest.json", Data(manifest.utf8)) }
        put(input.name, input.dataset)

        guard case .rejected(let name, let error) = try intake.process(input.name) else {
            Issue.record("expected a rejection")
            return
        }
        #expect(error.code == input.code, "\(error)")
        #expect(name == input.name)
        let stored = try #require(file(.rejected, name))
        #expect(SHA256.hexDigest(of: stored) == SHA256.hexDigest(of: input.dataset), "rejected bytes are unchanged")
        let stem = name.hasSuffix(".jsonl") ? String(name.dropLast(6)) : name
        let written = try JSONDecoder().decode(IntakeError.self, from: try #require(file(.rejected, stem + ".error.json")))
        #expect(written.code == input.code)
        #expect(written.message == error.message)
        if let manifest = input.manifest {
            #expect(file(.rejected, "data.manifest.json") == Data(manifest.utf8), "the manifest travels with its dataset")
        }
        #expect(try spool.scan(.incoming).isEmpty)
        #expect(try spool.scan(.accepted).isEmpty)
    }

    @Test func lineFaultsCarryTheirLine() throws {
        put("data.jsonl", Data((Self.good + [Self.record("neutral")]).map { $0 + "\n" }.joined().utf8))
        guard case .rejected(_, let error) = try intake.process("data.jsonl") else {
            Issue.record("expected a rejection")
            return
        }
        #expect(error.line == 5)
        let written = try JSONDecoder().decode(IntakeError.self, from: try #require(file(.rejected, "data.error.json")))
        #expect(written.line == 5)
    }

    @Test func aFIFOIsRejectedWithoutBlocking() throws {
        #expect(mkfifo(spool.url(of: .incoming).appendingPathComponent("pipe.jsonl").path, 0o600) == 0)
        guard case .rejected(let name, let error) = try intake.process("pipe.jsonl") else {
            Issue.record("expected a rejection")
            return
        }
        #expect(error.code == .notARegularFile)
        var status = stat()
        #expect(lstat(spool.url(of: .rejected).appendingPathComponent(name).path, &status) == 0)
        #expect(status.st_mode & S_IFMT == S_IFIFO)
    }

    @Test func aValidDatasetIsAcceptedWithItsManifest() throws {
        let manifest = #"{"privacy": {"epsilon": 2}, "hyperparameters_tuned": true}"#
        let dataset = Data(Self.good.map { $0 + "\n" }.joined().utf8)
        put("data.manifest.json", Data(manifest.utf8))
        #expect(try intake.process("data.manifest.json") == .ignored, "a manifest waits for its dataset")
        put("data.jsonl", dataset)
        guard case .accepted(let accepted) = try intake.process("data.jsonl") else {
            Issue.record("expected acceptance")
            return
        }
        #expect(accepted.name == "data.jsonl")
        #expect(accepted.manifest.privacy.epsilon == 2)
        #expect(accepted.manifest.hyperparametersTuned)
        #expect(accepted.summary.recordCount == 4)
        #expect(accepted.summary.sha256 == SHA256.hexDigest(of: dataset))
        #expect(file(.accepted, "data.jsonl") == dataset)
        #expect(file(.accepted, "data.manifest.json") == Data(manifest.utf8))
        #expect(try spool.scan(.incoming).isEmpty)
        #expect(try intake.process("data.jsonl") == .ignored, "a second report of a moved file is harmless")
    }

    /// A policy cut short because the daemon stops, or unable to check for a cause of its
    /// host, refuses nothing: the dataset and its manifest stay in incoming/, for the next
    /// start or the next try.
    @Test(arguments: [IntakeError.Code.intakeStopped, .intakeDeferred])
    func aCheckCutShortLeavesTheDatasetInIncoming(code: IntakeError.Code) throws {
        let error = IntakeError(code, "cut short")
        let cutShort = SpoolIntake(spool: spool, validator: intake.validator, defaults: intake.defaults,
                                   policy: CutShortPolicy(error: error))
        let dataset = Data(Self.good.map { $0 + "\n" }.joined().utf8)
        put("data.manifest.json", Data(#"{"privacy": {"epsilon": 2}}"#.utf8))
        put("data.jsonl", dataset)
        #expect(try cutShort.process("data.jsonl") == (code == .intakeStopped ? .stopped : .deferred(error)))
        #expect(Set(try spool.scan(.incoming)) == ["data.jsonl", "data.manifest.json"])
        #expect(file(.incoming, "data.jsonl") == dataset)
        #expect(try spool.scan(.rejected).isEmpty)
        #expect(try spool.scan(.accepted).isEmpty)
    }

    /// An unsafe name that names no file (gone, or a lossy decoding of bytes that are not
    /// UTF-8) is ignored, not a spool failure thrown from inside the rejection.
    @Test func anUnsafeNameOfNoFileIsIgnored() throws {
        #expect(try intake.process("bad\u{FFFD}.jsonl") == .ignored)
        #expect(try intake.process("gone.txt") == .ignored)
        #expect(try spool.scan(.rejected).isEmpty)
    }
}

/// A policy whose check ends in `error` without judging the dataset.
private struct CutShortPolicy: IntakePolicy {
    let error: IntakeError
    let knownBackbones: Set<String> = ["minilm-l6"]
    let knownStrategies: Set<String> = ["lora"]
    let knownAccounts: Set<String> = ["hospital-a"]

    func admit(account: String, manifest: Manifest, dataset: DatasetSummary) throws(IntakeError) {
        throw error
    }
}
