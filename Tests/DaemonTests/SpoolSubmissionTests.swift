// SPDX-License-Identifier: Apache-2.0
import Control
@testable import Daemon
import Glibc
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
}
