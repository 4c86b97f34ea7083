// SPDX-License-Identifier: Apache-2.0
import Control
import Daemon
import Foundation
import Records
import Spool
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `submit.begin` … `submit.end` against the daemon's own handler on a real socket: the
/// client sends the bytes, the daemon stages them in the spool's tmp/ and places them.
@Suite struct SubmitUploadTests {
    typealias World = DaemonControlHandlerTests.World

    /// Where a world's daemon listens and spools, to use from a client's thread.
    struct DaemonPaths: Sendable {
        let socketPath: String
        let spool: URL

        init(_ world: World) {
            socketPath = world.socketPath
            spool = world.fixture.config.paths.spool
        }

        func client() throws -> ControlClient {
            try ControlClient(socketPath: socketPath, timeout: .seconds(10))
        }

        /// The scratch files in the spool's tmp/ (an upload's staging files among them).
        func staged() throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: spool.appendingPathComponent("tmp").path)
                .filter { $0.hasPrefix(".dptuned-") && $0.hasSuffix(".tmp") }
        }

        func incoming() throws -> [String] {
            try FileManager.default.contentsOfDirectory(atPath: spool.appendingPathComponent("incoming").path)
        }

        func incoming(_ name: String) -> Data? {
            FileManager.default.contents(atPath: spool.appendingPathComponent("incoming/\(name)").path)
        }
    }

    /// Runs `body` with a client on a connection of its own, on a thread of its own.
    static func connection<T: Sendable>(
        _ world: World, _ body: @escaping @Sendable (ControlClient, DaemonPaths) throws -> T
    ) async throws -> T {
        let paths = DaemonPaths(world)
        return try await onOwnThread { try body(try paths.client(), paths) }
    }

    /// `"ok"`, or the code of the daemon's refusal.
    static func outcome(_ body: () throws -> Void) -> String {
        do {
            try body()
            return "ok"
        } catch let error as ControlError {
            return error.code.rawValue
        } catch {
            return "\(error)"
        }
    }

    static func begin(_ client: ControlClient, _ begin: SubmitBegin) throws -> String {
        guard case .upload(let progress) = try client.send(.submitBegin(begin)) else {
            throw ControlError(.protocolViolation, "submit.begin not answered with an upload")
        }
        return progress.upload
    }

    @Test func aDatasetAndManifestSentInSeveralChunksLandByteIdentical() async throws {
        let world = try await World()
        defer { Task { await world.server.shutdown() } }
        let records = DaemonFixture.dataset(records: 40)
        let dataset = try world.fixture.directory.write("mine.jsonl", records)
        let manifestText = DaemonFixture.manifest(account: "acme")
        let manifest = try world.fixture.directory.write("m.json", manifestText)
        #expect(records.utf8.count > 4 * 1000, "several chunks of 1000 bytes")

        let receipts = try await Self.connection(world) { client, _ in
            try (0..<2).map { _ in
                try client.submit(
                    dataset: try UploadSource(path: dataset), manifest: try UploadSource(path: manifest), chunkBytes: 1000)
            }
        }
        #expect(receipts.map(\.dataset) == ["mine", "mine-1"])
        let paths = DaemonPaths(world)
        for receipt in receipts {
            #expect(paths.incoming("\(receipt.dataset).jsonl") == Data(records.utf8))
            #expect(paths.incoming("\(receipt.dataset).manifest.json") == Data(manifestText.utf8))
        }
        #expect(try paths.staged().isEmpty)
    }

    /// The daemon is sent bytes, never a path: the client's files are gone (their very
    /// directory removed) before the upload begins, and the dataset still lands, as it
    /// does from a home or /tmp that the daemon's unit cannot see.
    @Test func theDaemonNeverOpensTheClientsPath() async throws {
        let world = try await World()
        defer { Task { await world.server.shutdown() } }
        let records = DaemonFixture.dataset(records: 5)
        let clientsDirectory = try TemporaryDirectory(prefix: "dptune-client")
        let datasetPath = try clientsDirectory.write("private.jsonl", records)
        let (stillThere, receipt) = try await Self.connection(world) { client, _ in
            let dataset = try UploadSource(path: datasetPath)
            try FileManager.default.removeItem(at: clientsDirectory.url)
            return (FileManager.default.fileExists(atPath: datasetPath), try client.submit(dataset: dataset, manifest: nil))
        }
        #expect(!stillThere)
        #expect(receipt.dataset == "private")
        #expect(DaemonPaths(world).incoming("private.jsonl") == Data(records.utf8))
    }

    /// `dptunectl submit` as an operator runs it, against the daemon's handler.
    @Test func dptunectlSubmitUploadsAndPrintsTheReceipt() async throws {
        let world = try await World()
        defer { Task { await world.server.shutdown() } }
        let records = DaemonFixture.dataset(records: 3000)
        let dataset = try world.fixture.directory.write("notes.jsonl", records)
        let manifest = try world.fixture.directory.write("notes.manifest.json", DaemonFixture.manifest(account: "acme"))
        #expect(records.utf8.count > ControlClient.uploadChunkBytes, "more than one chunk")
        let executable = try ProductExecutable("dptunectl")
        let result = try await onOwnThread { [socketPath = world.socketPath] in
            try executable.run(["--socket", socketPath, "--json", "submit", dataset, "--manifest", manifest])
        }
        #expect(result.status == 0, "\(result.standardError)")
        let receipt = try JSONDecoder.controlProtocol().decode(SubmitReceipt.self, from: Data(result.standardOutput.utf8))
        #expect(receipt == SubmitReceipt(dataset: "notes"))
        #expect(DaemonPaths(world).incoming("notes.jsonl") == Data(records.utf8))
    }

    /// Each way an upload can go wrong, after a `submit.begin` of 6 bytes.
    enum Fault: String, CaseIterable, Sendable {
        case wrongOffset, badBase64, pastTheAnnouncedSize, endBeforeEveryByte, wrongHash, unannouncedManifest

        static let content = Data("{}\n{}\n".utf8)

        var expected: ControlError.Code {
            switch self {
            case .wrongOffset: .offsetMismatch
            case .badBase64: .invalidEncoding
            case .pastTheAnnouncedSize, .endBeforeEveryByte, .unannouncedManifest: .sizeMismatch
            case .wrongHash: .checksumMismatch
            }
        }

        /// The requests after `submit.begin`; the last one is refused.
        func requests(upload: String) -> [ControlRequest] {
            let content = Self.content
            func chunk(_ offset: Int, _ bytes: Data, file: UploadFile = .dataset) -> ControlRequest {
                .submitChunk(SubmitChunk(upload: upload, file: file, offset: offset, bytes: bytes))
            }
            let end = ControlRequest.submitEnd(SubmitEnd(upload: upload, sha256: SHA256.hexDigest(of: content)))
            switch self {
            case .wrongOffset:
                return [chunk(0, content.prefix(2)), chunk(3, content.suffix(3))]
            case .badBase64:
                var bad = SubmitChunk(upload: upload, file: .dataset, offset: 0, bytes: content)
                bad.data = "not base64!"
                return [.submitChunk(bad)]
            case .pastTheAnnouncedSize:
                return [chunk(0, content + Data("x".utf8))]
            case .endBeforeEveryByte:
                return [chunk(0, content.prefix(3)), end]
            case .wrongHash:
                return [chunk(0, content), .submitEnd(SubmitEnd(upload: upload, sha256: SHA256.hexDigest(of: Data("other".utf8))))]
            case .unannouncedManifest:
                return [chunk(0, Data("{}".utf8), file: .manifest)]
            }
        }
    }

    /// The fault gets its own code, the staging files are gone at once (the connection
    /// still open), the upload is over, nothing reached incoming/, and the daemon serves on.
    @Test(arguments: Fault.allCases)
    func aFaultyUploadIsRefusedAndItsStagingFilesRemoved(fault: Fault) async throws {
        let world = try await World()
        defer { Task { await world.server.shutdown() } }
        let (outcomes, stagedAtBegin, stagedAfter, followUp) = try await Self.connection(world) { client, paths in
            let upload = try Self.begin(client, SubmitBegin(name: "x.jsonl", size: Fault.content.count))
            let stagedAtBegin = try paths.staged().count
            let outcomes = fault.requests(upload: upload).map { request in Self.outcome { try client.send(request) } }
            let stagedAfter = try paths.staged()
            let followUp = Self.outcome {
                try client.send(.submitChunk(SubmitChunk(upload: upload, file: .dataset, offset: 0, bytes: Fault.content)))
            }
            return (outcomes, stagedAtBegin, stagedAfter, followUp)
        }
        #expect(outcomes.last == fault.expected.rawValue)
        #expect(outcomes.dropLast().allSatisfy { $0 == "ok" })
        #expect(stagedAtBegin == 1)
        #expect(stagedAfter.isEmpty)
        #expect(followUp == ControlError.Code.notFound.rawValue)
        #expect(try DaemonPaths(world).incoming().isEmpty)
        guard case .status = try await world.send(.status) else { Issue.record("status not answered"); return }
    }

    @Test func sizesAndTheNumberOfUploadsAreBounded() async throws {
        let limits = UploadLimits(maxDatasetBytes: 100, maxManifestBytes: 10, maxUploads: 3, maxUploadsPerConnection: 2)
        let world = try await World(uploadLimits: limits)
        defer { Task { await world.server.shutdown() } }
        let (first, second, staged) = try await Self.connection(world) { first, paths in
            let firstOutcomes = [
                Self.outcome { _ = try Self.begin(first, SubmitBegin(name: "a.jsonl", size: 101)) },
                Self.outcome { _ = try Self.begin(first, SubmitBegin(name: "a.jsonl", size: 100, manifestSize: 11)) },
                Self.outcome { _ = try Self.begin(first, SubmitBegin(name: "a.jsonl", size: 100, manifestSize: 10)) },
                Self.outcome { _ = try Self.begin(first, SubmitBegin(name: "b.jsonl", size: 1)) },
                Self.outcome { _ = try Self.begin(first, SubmitBegin(name: "c.jsonl", size: 1)) },
            ]
            let second = try paths.client()
            let secondOutcomes = [
                Self.outcome { _ = try Self.begin(second, SubmitBegin(name: "d.jsonl", size: 1)) },
                Self.outcome { _ = try Self.begin(second, SubmitBegin(name: "e.jsonl", size: 1)) },
            ]
            return (firstOutcomes, secondOutcomes, try paths.staged().count)
        }
        #expect(first == ["file_too_large", "file_too_large", "ok", "ok", "too_many_uploads"])
        #expect(second == ["ok", "too_many_uploads"])
        #expect(staged == 4, "two files of the first upload, one of each other")
    }

    /// An upload belongs to the connection that began it: another (even the same user's)
    /// can neither add to it nor end it, and the owner carries on.
    @Test func anotherConnectionCannotTouchAnUpload() async throws {
        let world = try await World()
        defer { Task { await world.server.shutdown() } }
        let content = Fault.content
        let (others, receipt) = try await Self.connection(world) { owner, paths in
            let upload = try Self.begin(owner, SubmitBegin(name: "mine.jsonl", size: content.count))
            let other = try paths.client()
            let others = [
                Self.outcome { try other.send(.submitChunk(SubmitChunk(upload: upload, file: .dataset, offset: 0, bytes: content))) },
                Self.outcome { try other.send(.submitEnd(SubmitEnd(upload: upload, sha256: SHA256.hexDigest(of: content)))) },
            ]
            try owner.send(.submitChunk(SubmitChunk(upload: upload, file: .dataset, offset: 0, bytes: content)))
            return (others, try owner.send(.submitEnd(SubmitEnd(upload: upload, sha256: SHA256.hexDigest(of: content)))))
        }
        #expect(others == ["not_found", "not_found"])
        #expect(receipt == .submitted(SubmitReceipt(dataset: "mine")))
        #expect(DaemonPaths(world).incoming("mine.jsonl") == content)
    }

    /// A client that goes away mid-upload leaves nothing behind.
    @Test func anAbandonedUploadsStagingFilesGoWhenItsConnectionCloses() async throws {
        let world = try await World()
        defer { Task { await world.server.shutdown() } }
        let stagedWhileOpen = try await Self.connection(world) { client, paths in
            let upload = try Self.begin(client, SubmitBegin(name: "x.jsonl", size: 100, manifestSize: 2))
            try client.send(.submitChunk(SubmitChunk(upload: upload, file: .dataset, offset: 0, bytes: Fault.content)))
            return try paths.staged().count
        }
        #expect(stagedWhileOpen == 2)
        let paths = DaemonPaths(world)
        let deadline = ContinuousClock.now + .seconds(5)
        while try !paths.staged().isEmpty && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(try paths.staged().isEmpty)
    }

    /// A client that keeps its connection busy but sends no chunk loses the upload after
    /// the idle timeout.
    @Test func anIdleUploadIsRemovedAfterTheTimeout() async throws {
        let world = try await World(uploadLimits: UploadLimits(idleTimeout: .milliseconds(300)))
        defer { Task { await world.server.shutdown() } }
        let (stagedAtBegin, stagedLater, followUp) = try await Self.connection(world) { client, paths in
            let upload = try Self.begin(client, SubmitBegin(name: "x.jsonl", size: 100))
            let stagedAtBegin = try paths.staged().count
            for _ in 0..<10 {
                try client.send(.status)
                Thread.sleep(forTimeInterval: 0.1)
            }
            let stagedLater = try paths.staged().count
            let followUp = Self.outcome {
                try client.send(.submitChunk(SubmitChunk(upload: upload, file: .dataset, offset: 0, bytes: Fault.content)))
            }
            return (stagedAtBegin, stagedLater, followUp)
        }
        #expect(stagedAtBegin == 1)
        #expect(stagedLater == 0)
        #expect(followUp == "not_found")
    }

    @Test(.enabled(if: getuid() == 0, "needs root to make an unprivileged peer"))
    func anUnprivilegedPeerCannotUpload() async throws {
        let world = try await World(socketGroup: UnprivilegedThread.nogroup)
        defer { Task { await world.server.shutdown() } }
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: world.fixture.directory.path)
        let path = world.socketPath
        let outcome = try await UnprivilegedThread.run {
            let client = try ControlClient(socketPath: path, timeout: .seconds(10))
            return Self.outcome { _ = try Self.begin(client, SubmitBegin(name: "x.jsonl", size: 1)) }
        }
        #expect(outcome == "permission_denied")
        #expect(try DaemonPaths(world).staged().isEmpty)
    }
}
