// SPDX-License-Identifier: Apache-2.0
import Foundation
import Glibc
import Records
@testable import Spool
import Synchronization
import TestSupport
import Testing

@Suite struct SpoolDirectoryTests {
    /// Lives as long as the test (each test gets its own suite value).
    private let directory: TemporaryDirectory
    private let spool: SpoolDirectory

    init() throws {
        directory = try TemporaryDirectory()
        spool = try SpoolDirectory(root: directory.url.appendingPathComponent("spool"))
    }

    private func path(_ spool: SpoolDirectory, _ folder: SpoolDirectory.Folder, _ name: String) -> String {
        spool.url(of: folder).appendingPathComponent(name).path
    }

    private func put(_ spool: SpoolDirectory, _ folder: SpoolDirectory.Folder, _ name: String, _ text: String) {
        #expect(FileManager.default.createFile(atPath: path(spool, folder, name), contents: Data(text.utf8)))
    }

    private func contents(_ spool: SpoolDirectory, _ folder: SpoolDirectory.Folder, _ name: String) -> String? {
        FileManager.default.contents(atPath: path(spool, folder, name)).map { String(decoding: $0, as: UTF8.self) }
    }

    private func isSymlink(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0 && status.st_mode & S_IFMT == S_IFLNK
    }

    @Test func createsEveryFolderAndReopensThem() throws {
        for folder in SpoolDirectory.Folder.allCases {
            var isDirectory: ObjCBool = false
            #expect(FileManager.default.fileExists(atPath: spool.url(of: folder).path, isDirectory: &isDirectory))
            #expect(isDirectory.boolValue)
        }
        _ = try SpoolDirectory(root: spool.root)
    }

    @Test func refusesAFolderThatIsASymlink() throws {
        let root = directory.url.appendingPathComponent("linked-spool")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: directory.url.appendingPathComponent("elsewhere"), withIntermediateDirectories: true)
        #expect(symlink(directory.url.appendingPathComponent("elsewhere").path, root.appendingPathComponent("done").path) == 0)
        let error = #expect(throws: SpoolError.self) { try SpoolDirectory(root: root) }
        #expect(error?.code == .unusableDirectory)
    }

    @Test func scanListsIncomingOldestFirst() throws {
        put(spool, .incoming, "b.jsonl", "{}")
        usleep(20_000)
        put(spool, .incoming, "a.jsonl", "{}")
        usleep(20_000)
        put(spool, .incoming, "c.manifest.json", "{}")
        #expect(try spool.scan() == ["b.jsonl", "a.jsonl", "c.manifest.json"])
        #expect(try spool.scan(.accepted).isEmpty)
    }

    @Test func entriesCarryTheirManifest() throws {
        put(spool, .incoming, "x.manifest.json", "{}")
        #expect(try spool.entry(named: "x.manifest.json") == nil, "a manifest waits for its dataset")
        put(spool, .incoming, "x.jsonl", "{}")
        let entry = try #require(try spool.entry(named: "x.jsonl"))
        #expect(entry.name == "x.jsonl")
        #expect(entry.stem == "x")
        #expect(entry.manifestName == "x.manifest.json")
        #expect(try spool.entry(named: "x.manifest.json") == entry)
        #expect(try spool.manifestData(of: entry, in: .incoming) == Data("{}".utf8))
        #expect(try spool.entry(named: "gone.jsonl") == nil)
    }

    @Test func linksFIFOsDirectoriesAndHardLinksAreNotRegularFiles() throws {
        #expect(symlink("/etc/passwd", path(spool, .incoming, "link.jsonl")) == 0)
        #expect(mkfifo(path(spool, .incoming, "fifo.jsonl"), 0o600) == 0)
        #expect(mkdir(path(spool, .incoming, "dir.jsonl"), 0o700) == 0)
        put(spool, .incoming, "linked.jsonl", "{}")
        #expect(link(path(spool, .incoming, "linked.jsonl"), path(spool, .tmp, "other")) == 0)
        put(spool, .incoming, "ok.jsonl", "{}")
        #expect(symlink("/etc/passwd", path(spool, .incoming, "ok.manifest.json")) == 0)
        for name in ["link.jsonl", "fifo.jsonl", "dir.jsonl", "linked.jsonl", "ok.jsonl"] {
            let error = #expect(throws: IntakeError.self, "\(name)") { try spool.entry(named: name) }
            #expect(error?.code == .notARegularFile, "\(name)")
        }
    }

    @Test(.enabled(if: getuid() == 0, "creating a device node needs root"))
    func aDeviceNodeIsNotARegularFile() throws {
        let nullDevice = dev_t(1 << 8 | 3)  // major 1, minor 3, as /dev/null
        try #require(mknod(path(spool, .incoming, "null.jsonl"), S_IFCHR | 0o600, nullDevice) == 0)
        let error = #expect(throws: IntakeError.self) { try spool.entry(named: "null.jsonl") }
        #expect(error?.code == .notARegularFile)
        try spool.reject("null.jsonl", error: try #require(error))
        var status = stat()
        #expect(lstat(path(spool, .rejected, "null.jsonl"), &status) == 0 && status.st_mode & S_IFMT == S_IFCHR)
    }

    @Test func acceptThenFinishMovesDatasetAndManifest() throws {
        put(spool, .incoming, "job.jsonl", "data")
        put(spool, .incoming, "job.manifest.json", "manifest")
        #expect(try spool.accept("job.jsonl") == "job.jsonl")
        #expect(try spool.scan(.incoming).isEmpty)
        #expect(contents(spool, .accepted, "job.jsonl") == "data")
        #expect(contents(spool, .accepted, "job.manifest.json") == "manifest")

        struct Result: Encodable { let job: String; let epsilon: Double }
        #expect(try spool.finish("job.jsonl", result: Result(job: "j-1", epsilon: 2.5)) == "job.jsonl")
        #expect(try spool.scan(.accepted).isEmpty)
        #expect(contents(spool, .done, "job.jsonl") == "data")
        #expect(contents(spool, .done, "job.manifest.json") == "manifest")
        let result = try JSONSerialization.jsonObject(with: Data(try #require(contents(spool, .done, "job.result.json")).utf8))
        #expect((result as? [String: Any])?["job"] as? String == "j-1")
        #expect(try spool.scan(.tmp).isEmpty, "the staged result file was renamed, not copied")
    }

    /// A dataset accepted for a job the daemon never recorded goes back to incoming/ with its
    /// manifest, beside (never over) a file of the same name dropped since.
    @Test func returnToIncomingBringsTheManifestAndReplacesNothing() throws {
        put(spool, .incoming, "job.jsonl", "data")
        put(spool, .incoming, "job.manifest.json", "manifest")
        try spool.accept("job.jsonl")
        #expect(try spool.returnToIncoming("job.jsonl") == "job.jsonl")
        #expect(try spool.scan(.accepted).isEmpty)
        #expect(contents(spool, .incoming, "job.jsonl") == "data")
        #expect(contents(spool, .incoming, "job.manifest.json") == "manifest")

        try spool.accept("job.jsonl")
        put(spool, .incoming, "job.jsonl", "newer")
        #expect(try spool.returnToIncoming("job.jsonl") == "job-1.jsonl")
        #expect(contents(spool, .incoming, "job.jsonl") == "newer")
        #expect(contents(spool, .incoming, "job-1.jsonl") == "data")
        #expect(contents(spool, .incoming, "job-1.manifest.json") == "manifest")
        #expect(try spool.scan(.tmp).isEmpty)
    }

    /// The hash the ledger keys a dataset by, read without following a link.
    @Test func sha256IsTheFilesContentHash() throws {
        let text = String(repeating: "{\"x\": 1}\n", count: 20_000)
        put(spool, .accepted, "big.jsonl", text)
        #expect(try spool.sha256(of: "big.jsonl", in: .accepted) == SHA256.hexDigest(of: Array(text.utf8)))
        #expect(try spool.sha256(of: "big.jsonl", in: .accepted) != SHA256.hexDigest(of: Array(text.utf8).dropLast()))
        #expect(symlink(path(spool, .accepted, "big.jsonl"), path(spool, .accepted, "link.jsonl")) == 0)
        #expect(throws: IntakeError.self) { try spool.sha256(of: "link.jsonl", in: .accepted) }
        #expect(throws: SpoolError.self) { try spool.sha256(of: "gone.jsonl", in: .accepted) }
    }

    @Test func rejectWritesTheErrorBesideTheUnchangedFile() throws {
        put(spool, .incoming, "bad.jsonl", "{\"x\": 1}\nnot json\n")
        let error = IntakeError(.invalidJSON, "not valid JSON", line: 2)
        #expect(try spool.reject("bad.jsonl", error: error) == "bad.jsonl")
        #expect(contents(spool, .rejected, "bad.jsonl") == "{\"x\": 1}\nnot json\n")
        let written = try JSONDecoder().decode(
            IntakeError.self, from: Data(try #require(contents(spool, .rejected, "bad.error.json")).utf8))
        #expect(written.code == .invalidJSON)
        #expect(written.message == "not valid JSON")
        #expect(written.line == 2)
    }

    @Test func collisionsGetASuffixAndNothingIsOverwritten() throws {
        for round in 0..<3 {
            put(spool, .incoming, "same.jsonl", "round \(round)")
            let moved = try spool.reject("same.jsonl", error: IntakeError(.emptyDataset, "round \(round)"))
            #expect(moved == (round == 0 ? "same.jsonl" : "same-\(round).jsonl"))
        }
        // An error file alone also reserves its stem.
        put(spool, .rejected, "other.error.json", "old")
        put(spool, .incoming, "other.jsonl", "new")
        #expect(try spool.reject("other.jsonl", error: IntakeError(.emptyDataset, "x")) == "other-1.jsonl")
        #expect(contents(spool, .rejected, "other.error.json") == "old")
        #expect(contents(spool, .rejected, "same.jsonl") == "round 0")
        #expect(contents(spool, .rejected, "same-1.jsonl") == "round 1")
        #expect(contents(spool, .rejected, "same-2.jsonl") == "round 2")
    }

    @Test func unsafeNamesAreMovedAsTheyAre() throws {
        for name in ["notes.txt", ".hidden.jsonl", "a..b.jsonl", "bell\u{7}.jsonl"] {
            put(spool, .incoming, name, name)
            let error = #expect(throws: IntakeError.self) { try spool.entry(named: name) }
            #expect(error?.code == .unsafePath)
            #expect(try spool.reject(name, error: try #require(error)) == name)
            #expect(contents(spool, .rejected, name) == name)
            let stem = name.hasSuffix(".jsonl") ? String(name.dropLast(6)) : name
            #expect(contents(spool, .rejected, stem + ".error.json") != nil)
        }
        #expect(throws: SpoolError.self) { try spool.reject("..", error: IntakeError(.unsafePath, "x")) }
        #expect(throws: SpoolError.self) { try spool.reject("a/b", error: IntakeError(.unsafePath, "x")) }
        #expect(throws: SpoolError.self) { try spool.accept("absent.jsonl") }
    }

    /// The link is moved as a link; reading through it would drain the FIFO it points to.
    @Test func aSymlinkIsRejectedWithoutBeingReadAndStaysASymlink() throws {
        let fifo = directory.url.appendingPathComponent("secret.fifo").path
        #expect(mkfifo(fifo, 0o600) == 0)
        let holder = open(fifo, O_RDWR | O_NONBLOCK)
        try #require(holder >= 0)
        defer { close(holder) }
        #expect(write(holder, "sentinel", 8) == 8)
        let link = path(spool, .incoming, "steal.jsonl")
        #expect(symlink(fifo, link) == 0)

        let intake = SpoolIntake(
            spool: spool, validator: DatasetValidator(), defaults: ManifestDefaults(account: "a", backbone: "b", strategy: "s"),
            policy: FixedIntakePolicy(knownBackbones: ["b"], knownStrategies: ["s"], knownAccounts: ["a"]))
        guard case .rejected(let name, let error) = try intake.process("steal.jsonl") else {
            Issue.record("expected a rejection")
            return
        }
        #expect(error.code == .notARegularFile)
        let moved = path(spool, .rejected, name)
        #expect(isSymlink(moved))
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: moved)) == fifo)
        var buffer = [UInt8](repeating: 0, count: 16)
        #expect(read(holder, &buffer, 16) == 8)
        #expect(String(decoding: buffer.prefix(8), as: UTF8.self) == "sentinel")

        #expect(symlink("/etc/passwd", link) == 0)
        guard case .rejected(let passwdName, let passwdError) = try intake.process("steal.jsonl") else {
            Issue.record("expected a rejection")
            return
        }
        #expect(passwdError.code == .notARegularFile)
        #expect(passwdName == "steal-1.jsonl")
        #expect(isSymlink(path(spool, .rejected, passwdName)))
        #expect(contents(spool, .rejected, "steal-1.error.json")?.contains("root:") == false)
    }

    /// Counts renames across a test's checkpoint calls.
    private final class RenameCount: Sendable {
        let value = Mutex(0)
    }

    /// A checkpoint that stops a state change as `kill -9` would, by throwing: before the
    /// first rename when `renames` is 0, else right after the `renames`-th.
    private static func kill(after renames: Int) -> @Sendable (SpoolDirectory.Checkpoint) throws(SpoolError) -> Void {
        let count = RenameCount()
        return { checkpoint throws(SpoolError) in
            switch checkpoint {
            case .beforeRename:
                if renames == 0 { throw SpoolError(.systemCallFailed, "killed before the first rename") }
            case .afterRename:
                if count.value.withLock({ $0 += 1; return $0 }) == renames {
                    throw SpoolError(.systemCallFailed, "killed after rename \(renames)")
                }
            }
        }
    }

    /// The daemon killed while rejecting a dataset, before the first rename or after the
    /// record's, the manifest's or the dataset's: the next start completes the move, so the
    /// dataset ends beside its manifest and its reason, once, and nothing waits in
    /// incoming/ or tmp/. (Before, the dataset moved first and a kill left it in rejected/
    /// without a reason, its manifest in incoming/.)
    @Test(arguments: 0...3)
    func aRejectKilledBetweenItsRenamesIsCompletedAtTheNextStart(renamesBeforeKill: Int) throws {
        let root = directory.url.appendingPathComponent("killed")
        let killed = try SpoolDirectory(root: root, checkpoint: Self.kill(after: renamesBeforeKill))
        put(killed, .incoming, "x.jsonl", "data")
        put(killed, .incoming, "x.manifest.json", "manifest")
        #expect(throws: SpoolError.self) {
            try killed.reject("x.jsonl", error: IntakeError(.invalidJSON, "not valid JSON", line: 2))
        }

        let restarted = try SpoolDirectory(root: root)
        #expect(try restarted.completeInterruptedMoves() == (renamesBeforeKill < 3 ? ["rejected/x.jsonl"] : []))
        #expect(try restarted.scan(.rejected).sorted() == ["x.error.json", "x.jsonl", "x.manifest.json"])
        #expect(contents(restarted, .rejected, "x.jsonl") == "data")
        #expect(contents(restarted, .rejected, "x.manifest.json") == "manifest")
        let written = try JSONDecoder().decode(
            IntakeError.self, from: Data(try #require(contents(restarted, .rejected, "x.error.json")).utf8))
        #expect(written.code == .invalidJSON)
        #expect(written.line == 2)
        #expect(try restarted.scan(.incoming).isEmpty)
        #expect(try restarted.scan(.tmp).isEmpty)
        #expect(try restarted.completeInterruptedMoves().isEmpty, "a completed move is not replayed")
    }

    /// Killed after an accepted dataset's manifest moved but before the dataset did: the next
    /// start moves the dataset beside it, so the rescan of incoming/ finds nothing, and a
    /// later dataset of the same name is not read with the old manifest.
    @Test func anAcceptKilledAfterTheManifestIsCompletedAndTheRescanFindsNothing() throws {
        let root = directory.url.appendingPathComponent("killed")
        let killed = try SpoolDirectory(root: root, checkpoint: Self.kill(after: 1))
        put(killed, .incoming, "x.jsonl", "data")
        put(killed, .incoming, "x.manifest.json", "manifest")
        #expect(throws: SpoolError.self) { try killed.accept("x.jsonl") }
        #expect(contents(killed, .accepted, "x.manifest.json") == "manifest")
        #expect(contents(killed, .incoming, "x.jsonl") == "data")

        let restarted = try SpoolDirectory(root: root)
        #expect(try restarted.completeInterruptedMoves() == ["accepted/x.jsonl"])
        #expect(contents(restarted, .accepted, "x.jsonl") == "data")
        #expect(contents(restarted, .accepted, "x.manifest.json") == "manifest")
        #expect(try restarted.scan(.incoming).isEmpty)
        put(restarted, .incoming, "x.jsonl", "later")
        #expect(try restarted.entry(named: "x.jsonl")?.manifestName == nil)
    }

    /// A journal moves only the files it began with: killed after the reason and the manifest
    /// moved, and the writer then renamed a new dataset over the old one in incoming/, the
    /// next start leaves the new one there for intake rather than filing it under the old
    /// reason.
    @Test func aFileRenamedOverTheDatasetAfterTheKillIsNotMovedByTheOldJournal() throws {
        let root = directory.url.appendingPathComponent("killed")
        let killed = try SpoolDirectory(root: root, checkpoint: Self.kill(after: 2))
        put(killed, .incoming, "x.jsonl", "old")
        put(killed, .incoming, "x.manifest.json", "manifest")
        #expect(throws: SpoolError.self) { try killed.reject("x.jsonl", error: IntakeError(.emptyDataset, "empty")) }
        #expect(contents(killed, .rejected, "x.manifest.json") == "manifest")
        let replacement = directory.url.appendingPathComponent("replacement").path
        #expect(FileManager.default.createFile(atPath: replacement, contents: Data("new".utf8)))
        #expect(rename(replacement, path(killed, .incoming, "x.jsonl")) == 0)

        let restarted = try SpoolDirectory(root: root)
        #expect(try restarted.completeInterruptedMoves().isEmpty)
        #expect(contents(restarted, .incoming, "x.jsonl") == "new")
        #expect(!FileManager.default.fileExists(atPath: path(restarted, .rejected, "x.jsonl")))
        #expect(try restarted.scan(.tmp).isEmpty)
    }

    /// Names that are not UTF-8 are left out of scan(), and rejectUndecodableNames() moves
    /// them by their bytes under an escaped name (each bad byte `%XX`, a cut-off character
    /// too), with a collision suffix, never pairing a manifest that the escape happens to name.
    @Test func namesThatAreNotUTF8AreRejectedByTheirBytes() throws {
        let incoming = Array(spool.url(of: .incoming).path.utf8) + [UInt8(ascii: "/")]
        for (name, text) in [(Array("bad".utf8) + [0xFF] + Array(".jsonl".utf8), "first"),
                             (Array("cut".utf8) + [0xE2, 0x82] + Array(".jsonl".utf8), "second")] {
            let file = open((incoming + name).map { CChar(bitPattern: $0) } + [0], O_WRONLY | O_CREAT | O_EXCL, 0o644)
            try #require(file >= 0)
            #expect(write(file, text, text.utf8.count) == text.utf8.count)
            #expect(close(file) == 0)
        }
        put(spool, .incoming, "bad%FF.manifest.json", "someone else's")
        put(spool, .rejected, "bad%FF.jsonl", "older")
        #expect(try spool.scan() == ["bad%FF.manifest.json"])

        #expect(Set(try spool.rejectUndecodableNames()) == ["bad%FF-1.jsonl", "cut%E2%82.jsonl"])
        #expect(contents(spool, .rejected, "bad%FF-1.jsonl") == "first")
        #expect(contents(spool, .rejected, "cut%E2%82.jsonl") == "second")
        #expect(contents(spool, .rejected, "bad%FF.jsonl") == "older")
        let written = try JSONDecoder().decode(
            IntakeError.self, from: Data(try #require(contents(spool, .rejected, "bad%FF-1.error.json")).utf8))
        #expect(written.code == .unsafePath)
        #expect(written.message.contains(#""bad\xFF.jsonl""#), "\(written.message)")
        #expect(try spool.scan() == ["bad%FF.manifest.json"], "the manifest the escape names is not taken along")
        #expect(try spool.rejectUndecodableNames().isEmpty)
    }
}
