// SPDX-License-Identifier: Apache-2.0
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Who is on the other end of a control connection, as the kernel recorded it at `connect(2)`.
///
/// `pid`, `uid` and `gid` come from `SO_PEERCRED`; `groups` (the supplementary groups) from
/// `SO_PEERGROUPS` (Linux ≥ 4.13). Both are snapshots taken by the kernel when the peer
/// connected, so neither can be changed by the peer afterwards nor confused by PID reuse.
/// We prefer that over the two other ways to learn the groups:
/// - `/proc/PID/status` `Groups:` reads the *current* groups of whatever process now has
///   that PID: the peer may have exited and the PID been reused, or it may have passed the
///   connection to another process;
/// - the group's member list in `/etc/group` says what the account *would* get at its next
///   login, not what the connecting process holds (a user removed from the group keeps the
///   membership in running sessions, and one just added does not have it yet), and it
///   misses memberships that come from NSS sources other than the member list.
/// `SO_PEERGROUPS` matches how the kernel itself checks the socket file's group permission.
public struct PeerCredentials: Sendable, Hashable, CustomStringConvertible {
    public var pid: pid_t
    public var uid: uid_t
    public var gid: gid_t
    public var groups: [gid_t]

    public init(pid: pid_t, uid: uid_t, gid: gid_t, groups: [gid_t]) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
        self.groups = groups
    }

    /// Whether the peer may change daemon state: it is root, or `adminGroup` is its primary or
    /// a supplementary group.
    public func isAdmin(adminGroup: gid_t?) -> Bool {
        if uid == 0 { return true }
        guard let adminGroup else { return false }
        return gid == adminGroup || groups.contains(adminGroup)
    }

    public var description: String { "pid \(pid) uid \(uid) gid \(gid) groups \(groups)" }

    /// Reads the credentials of the peer of the connected Unix socket `fd`.
    ///
    /// - Throws: ``ControlError`` `.connectionFailed` when the kernel refuses either option.
    static func read(socket fd: CInt) throws -> PeerCredentials {
        var credentials = KernelCredentials()
        var length = socklen_t(MemoryLayout<KernelCredentials>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0 else {
            throw ControlError(.connectionFailed, "getsockopt(SO_PEERCRED) failed: \(String(cString: strerror(errno)))")
        }
        return PeerCredentials(
            pid: credentials.pid, uid: credentials.uid, gid: credentials.gid,
            groups: try supplementaryGroups(socket: fd))
    }

    /// `struct ucred` of `<sys/socket.h>`, which Glibc only declares under `_GNU_SOURCE`.
    private struct KernelCredentials {
        var pid: pid_t = 0
        var uid: uid_t = 0
        var gid: gid_t = 0
    }

    private static func supplementaryGroups(socket fd: CInt) throws -> [gid_t] {
        // Start with room for 64 groups; on ERANGE the kernel reports the size it needs.
        var length = socklen_t(64 * MemoryLayout<gid_t>.size)
        while true {
            var groups = [gid_t](repeating: 0, count: Int(length) / MemoryLayout<gid_t>.size)
            let status = groups.withUnsafeMutableBytes { buffer in
                getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, buffer.baseAddress, &length)
            }
            if status == 0 {
                return Array(groups.prefix(Int(length) / MemoryLayout<gid_t>.size))
            }
            guard errno == ERANGE, Int(length) > groups.count * MemoryLayout<gid_t>.size else {
                throw ControlError(
                    .connectionFailed, "getsockopt(SO_PEERGROUPS) failed: \(String(cString: strerror(errno)))")
            }
        }
    }
}
