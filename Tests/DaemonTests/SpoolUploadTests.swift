// SPDX-License-Identifier: Apache-2.0
import Control
@testable import Daemon
import Foundation
import Records
@testable import Spool
import TestSupport
import Testing

@Suite struct SpoolUploadTests {
    @Test func stemsAreMadeSafe() {
        #expect(SpoolUpload.safeStem("reviews 2024/v1") == "reviews_2024_v1")
        #expect(SpoolUpload.safeStem("..hidden") == "hidden")
        #expect(SpoolUpload.safeStem("...") == "submitted")
    }

    /// The receipt's name is one intake accepts, with its manifest and a collision suffix:
    /// `a..b` (`..` inside) and a 300-byte stem were named in the receipt, then refused by
    /// intake as `unsafe_path`.
    @Test(arguments: ["a..b", "a...b", String(repeating: "x", count: 300), "..hidden", "reviews 2024/v1", "é✓"])
    func aSafeStemMakesValidSpoolNames(stem: String) throws {
        let safe = SpoolUpload.safeStem(stem)
        for name in ["\(safe).jsonl", "\(safe).manifest.json", "\(safe)-999999.manifest.json"] {
            _ = try SpoolName(name)
        }
    }

    /// An upload of `x.jsonl` with its manifest, every byte arrived.
    static func upload(to spool: SpoolDirectory, dataset: String, manifest: String) throws -> (SpoolUpload, SubmitEnd) {
        let (datasetBytes, manifestBytes) = (Data(dataset.utf8), Data(manifest.utf8))
        var upload = try SpoolUpload(
            SubmitBegin(name: "x.jsonl", size: datasetBytes.count, manifestSize: manifestBytes.count),
            connection: ControlConnectionID(rawValue: 1), spool: spool)
        try upload.append(SubmitChunk(upload: upload.id, file: .manifest, offset: 0, bytes: manifestBytes))
        try upload.append(SubmitChunk(upload: upload.id, file: .dataset, offset: 0, bytes: datasetBytes))
        let end = SubmitEnd(
            upload: upload.id, sha256: SHA256.hexDigest(of: datasetBytes), manifestSHA256: SHA256.hexDigest(of: manifestBytes))
        return (upload, end)
    }

    /// A data owner drops `x.jsonl` (or `x.manifest.json`) into incoming/ after the upload
    /// found the name free, while it places the copy: the owner's file is not replaced (it
    /// was, by a plain rename(2)), the copy and its manifest take the next name together,
    /// and the receipt's name is that one.
    @Test(arguments: ["x.jsonl", "x.manifest.json"])
    func aFileDroppedWhileTheCopyIsPlacedIsNeverReplaced(taken: String) throws {
        let directory = try TemporaryDirectory(prefix: "dptune-submit")
        let incoming = directory.url.appendingPathComponent("spool/incoming")
        let owners = incoming.appendingPathComponent(taken).path
        let spool = try SpoolDirectory(root: directory.url.appendingPathComponent("spool")) { checkpoint throws(SpoolError) in
            if checkpoint == .beforeRename(.incoming, taken) && !FileManager.default.fileExists(atPath: owners) {
                _ = FileManager.default.createFile(atPath: owners, contents: Data("the owner's\n".utf8))
            }
        }
        let (upload, end) = try Self.upload(to: spool, dataset: "submitted\n", manifest: "{}")

        let name = try upload.place(in: spool, end)
        #expect(name == "x-1")
        func text(_ name: String) -> String? {
            FileManager.default.contents(atPath: incoming.appendingPathComponent(name).path).map { String(decoding: $0, as: UTF8.self) }
        }
        #expect(text(taken) == "the owner's\n")
        #expect(text("x-1.jsonl") == "submitted\n")
        #expect(text("x-1.manifest.json") == "{}")
        #expect(try spool.scan(.incoming).sorted() == [taken, "x-1.jsonl", "x-1.manifest.json"].sorted(),
                "the copy's manifest does not stay beside the owner's dataset")
        #expect(try spool.scan(.tmp).isEmpty)
    }

    /// A spool out of room is the operator's to fix and worth another try, and the client
    /// is told so; any other failure of the spool is the daemon's. Both were `internal`.
    @Test(arguments: [(ENOSPC, ControlError.Code.insufficientStorage), (EDQUOT, .insufficientStorage), (EIO, .internal)])
    func aSpoolOutOfRoomIsToldApart(errno failure: Int32, code: ControlError.Code) throws {
        let directory = try TemporaryDirectory(prefix: "dptune-submit")
        let spool = try SpoolDirectory(root: directory.url.appendingPathComponent("spool")) { checkpoint throws(SpoolError) in
            if case .beforeRename(.incoming, _) = checkpoint {
                throw SpoolError(.systemCallFailed, "rename failed: \(String(cString: strerror(failure)))", systemErrno: failure)
            }
        }
        let (upload, end) = try Self.upload(to: spool, dataset: "submitted\n", manifest: "{}")
        let error = #expect(throws: ControlError.self) { _ = try upload.place(in: spool, end) }
        #expect(error?.code == code)
        #expect(error?.message.contains(String(cString: strerror(failure))) == true, "\(String(describing: error))")
        #expect(try spool.scan(.incoming).isEmpty)
    }

    /// A daemon killed during an upload leaves its staging files in tmp/: the next start
    /// removes them with its other scratch files, and the upload is gone.
    @Test func anUploadDoesNotSurviveARestart() throws {
        let directory = try TemporaryDirectory(prefix: "dptune-submit")
        let root = directory.url.appendingPathComponent("spool")
        _ = try Self.upload(to: try SpoolDirectory(root: root), dataset: "submitted\n", manifest: "{}")
        let restarted = try SpoolDirectory(root: root)
        #expect(try restarted.scan(.tmp).count == 2)
        _ = try restarted.completeInterruptedMoves()
        #expect(try restarted.scan(.tmp).isEmpty)
    }
}
