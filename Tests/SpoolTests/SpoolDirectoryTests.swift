// SPDX-License-Identifier: Apache-2.0
import Foundation
import Glibc
import Records
import Spool
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
}
