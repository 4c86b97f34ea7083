// SPDX-License-Identifier: Apache-2.0
import Control
@testable import Daemon
import Foundation
import Glibc
@testable import Spool
import TestSupport
import Testing

@Suite struct SpoolSubmissionTests {
    static func file(owner: uid_t, group: gid_t, mode: mode_t) -> stat {
        var status = stat()
        status.st_uid = owner
        status.st_gid = group
        status.st_mode = S_IFREG | mode
        return status
    }

    @Test func readsOnlyWhatTheCallerCould() {
        let alice = PeerCredentials(pid: 1, uid: 1000, gid: 1000, groups: [1000, 50])
        #expect(SpoolSubmission.mayRead(Self.file(owner: 1000, group: 1000, mode: 0o600), peer: alice))
        #expect(!SpoolSubmission.mayRead(Self.file(owner: 1000, group: 1000, mode: 0o077), peer: alice))
        #expect(!SpoolSubmission.mayRead(Self.file(owner: 0, group: 0, mode: 0o600), peer: alice))
        #expect(SpoolSubmission.mayRead(Self.file(owner: 0, group: 50, mode: 0o640), peer: alice))
        #expect(!SpoolSubmission.mayRead(Self.file(owner: 0, group: 50, mode: 0o604), peer: alice))
        #expect(SpoolSubmission.mayRead(Self.file(owner: 0, group: 0, mode: 0o644), peer: alice))
        let root = PeerCredentials(pid: 1, uid: 0, gid: 0, groups: [])
        #expect(SpoolSubmission.mayRead(Self.file(owner: 1000, group: 1000, mode: 0o600), peer: root))
    }

    @Test func stemsAreMadeSafe() {
        #expect(SpoolSubmission.safeStem("reviews 2024/v1") == "reviews_2024_v1")
        #expect(SpoolSubmission.safeStem("..hidden") == "hidden")
        #expect(SpoolSubmission.safeStem("...") == "submitted")
    }

    /// The receipt's name is one intake accepts, with its manifest and a collision suffix:
    /// `a..b` (`..` inside) and a 300-byte stem were named in the receipt, then refused by
    /// intake as `unsafe_path`.
    @Test(arguments: ["a..b", "a...b", String(repeating: "x", count: 300), "..hidden", "reviews 2024/v1", "é✓"])
    func aSafeStemMakesValidSpoolNames(stem: String) throws {
        let safe = SpoolSubmission.safeStem(stem)
        for name in ["\(safe).jsonl", "\(safe).manifest.json", "\(safe)-999999.manifest.json"] {
            _ = try SpoolName(name)
        }
    }

    /// A data owner drops `x.jsonl` (or `x.manifest.json`) into incoming/ after `submit`
    /// found the name free, while it stages the copy: the owner's file is not replaced (it
    /// was, by a plain rename(2)), the copy and its manifest take the next name together,
    /// and the receipt's name is that one.
    @Test(arguments: ["x.jsonl", "x.manifest.json"])
    func aFileDroppedWhileTheCopyIsStagedIsNeverReplaced(taken: String) throws {
        let directory = try TemporaryDirectory(prefix: "dptune-submit")
        let incoming = directory.url.appendingPathComponent("spool/incoming")
        let owners = incoming.appendingPathComponent(taken).path
        let spool = try SpoolDirectory(root: directory.url.appendingPathComponent("spool")) { checkpoint throws(SpoolError) in
            if checkpoint == .beforeRename(.incoming, taken) && !FileManager.default.fileExists(atPath: owners) {
                _ = FileManager.default.createFile(atPath: owners, contents: Data("the owner's\n".utf8))
            }
        }
        let dataset = try directory.write("x.jsonl", "submitted\n")
        let manifest = try directory.write("m.json", "{}")
        let root = PeerCredentials(pid: 1, uid: 0, gid: 0, groups: [])

        let name = try SpoolSubmission(spool: spool).submit(datasetPath: dataset, manifestPath: manifest, peer: root)
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
}
