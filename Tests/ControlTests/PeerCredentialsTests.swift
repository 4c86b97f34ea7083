// SPDX-License-Identifier: Apache-2.0
import Control
import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

@Suite("PeerCredentials")
struct PeerCredentialsTests {
    static let adminGroup: gid_t = 4242

    @Test("root, the primary group, or a supplementary group grants admin; nothing else does")
    func adminRule() {
        let user = PeerCredentials(pid: 10, uid: 1000, gid: 1000, groups: [27, 100])
        #expect(PeerCredentials(pid: 1, uid: 0, gid: 0, groups: []).isAdmin(adminGroup: nil))
        #expect(!user.isAdmin(adminGroup: nil))
        #expect(!user.isAdmin(adminGroup: Self.adminGroup))
        #expect(user.isAdmin(adminGroup: 100))
        #expect(PeerCredentials(pid: 10, uid: 1000, gid: Self.adminGroup, groups: []).isAdmin(adminGroup: Self.adminGroup))
    }

    @Test(
        "an unprivileged peer can read but cannot cancel, upload or reload",
        .enabled(if: getuid() == 0, "needs root to make an unprivileged peer"))
    func unprivilegedPeerCannotChangeState() async throws {
        try await ServerFixture.with(adminGroup: Self.adminGroup, socketGroup: UnprivilegedThread.nogroup) { fixture in
            try openDirectory(fixture)
            let path = fixture.socketPath
            let outcomes = try await UnprivilegedThread.run { () -> [String] in
                let client = try ControlClient(socketPath: path)
                let upload = FakeControlHandler.uploadID
                return [
                    ControlRequest.status, .cancel(id: "job-1"), .submitBegin(SubmitBegin(name: "x.jsonl", size: 1)),
                    .submitChunk(SubmitChunk(upload: upload, file: .dataset, offset: 0, bytes: Data("x".utf8))),
                    .submitEnd(SubmitEnd(upload: upload, sha256: "")), .pluginsReload,
                ]
                    .map { request in
                        do {
                            try client.send(request)
                            return "ok"
                        } catch let error as ControlError {
                            return error.code.rawValue
                        } catch {
                            return "\(error)"
                        }
                    }
            }
            #expect(outcomes == ["ok"] + Array(repeating: "permission_denied", count: 5))
            // The refused requests never reached the daemon.
            #expect(fixture.handler.received.map(\.request) == [.status])
            let peer = try #require(fixture.handler.received.first?.peer)
            #expect(peer.uid == UnprivilegedThread.nobody)
            #expect(peer.gid == UnprivilegedThread.nogroup)
            #expect(peer.groups.isEmpty)
        }
    }

    @Test(
        "a peer holding the admin group only as a supplementary group may cancel",
        .enabled(if: getuid() == 0, "needs root to make an unprivileged peer"))
    func supplementaryAdminGroupMayChangeState() async throws {
        try await ServerFixture.with(adminGroup: Self.adminGroup, socketGroup: UnprivilegedThread.nogroup) { fixture in
            try openDirectory(fixture)
            let path = fixture.socketPath
            let answer = try await UnprivilegedThread.run(groups: [100, Self.adminGroup]) {
                try ControlClient(socketPath: path).send(.cancel(id: "job-1"))
            }
            guard case .job(let detail) = answer else {
                Issue.record("cancel answered \(answer)")
                return
            }
            #expect(detail.summary.state == .cancelled)
            let peer = try #require(fixture.handler.received.first?.peer)
            #expect(peer.uid == UnprivilegedThread.nobody)
            #expect(Set(peer.groups) == [100, Self.adminGroup])
        }
    }

    @Test(
        "without the socket's group, an unprivileged user cannot even connect",
        .enabled(if: getuid() == 0, "needs root to make an unprivileged peer"))
    func socketModeKeepsOthersOut() async throws {
        try await ServerFixture.with(adminGroup: Self.adminGroup) { fixture in
            try openDirectory(fixture)
            let path = fixture.socketPath
            let code = try await UnprivilegedThread.run { () -> ControlError.Code? in
                do {
                    _ = try ControlClient(socketPath: path)
                    return nil
                } catch {
                    return (error as? ControlError)?.code
                }
            }
            #expect(code == .connectionFailed)
        }
    }

    /// Lets `nobody` reach the socket: the temporary directory is created 0700 for root.
    private func openDirectory(_ fixture: ServerFixture) throws {
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: fixture.directory.path)
    }
}
