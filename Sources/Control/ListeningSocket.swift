// SPDX-License-Identifier: Apache-2.0
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The listening Unix stream socket of the control server: one the server bound itself, or
/// one inherited from systemd.
///
/// The server binds with plain system calls rather than through NIO so that it can set the
/// file's mode and group *before* `listen(2)`: until then a connect is refused, so no client
/// ever reaches the socket under the wrong permissions.
struct ListeningSocket: Sendable {
    let descriptor: CInt
    /// The socket file the server created (and removes on shutdown); nil when adopted.
    let ownedPath: String?
    private let fileIdentity: FileIdentity?

    private struct FileIdentity: Sendable, Equatable {
        var device: UInt64
        var inode: UInt64
    }

    /// Creates the socket file at `path` with mode 0660 (and group `group`), then listens.
    ///
    /// A socket file left by a previous run is removed; anything else at `path` is left alone.
    ///
    /// - Throws: ``ControlError`` `.invalidConfiguration` naming the path and the reason.
    static func bind(path: String, group: gid_t?) throws -> ListeningSocket {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.utf8.count < capacity, !path.isEmpty else {
            throw ControlError(.invalidConfiguration, "socket path \(path) is empty or longer than \(capacity - 1) bytes")
        }
        try removeStaleSocket(at: path)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8)
            raw[path.utf8.count] = 0
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw systemError("socket() for \(path)") }
        do {
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            guard bound == 0 else { throw systemError("bind(\(path))") }
            guard chmod(path, 0o660) == 0 else { throw systemError("chmod(\(path), 0660)") }
            if let group, chown(path, uid_t.max, group) != 0 {
                throw systemError("chown(\(path), group \(group))")
            }
            guard listen(fd, SOMAXCONN) == 0 else { throw systemError("listen(\(path))") }
            var status = stat()
            guard lstat(path, &status) == 0 else { throw systemError("lstat(\(path))") }
            return ListeningSocket(
                descriptor: fd, ownedPath: path,
                fileIdentity: FileIdentity(device: UInt64(status.st_dev), inode: UInt64(status.st_ino)))
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    /// Takes over `descriptor`, a listening Unix stream socket passed by systemd
    /// (`sd_listen_fds`, normally fd 3).
    ///
    /// The descriptor is marked close-on-exec, since systemd passes it inheritable and the
    /// daemon starts worker processes that must not hold the control socket.
    ///
    /// - Throws: ``ControlError`` `.invalidConfiguration` if it is not such a socket.
    static func adopt(descriptor fd: CInt) throws -> ListeningSocket {
        func option(_ name: CInt) throws -> CInt {
            var value: CInt = 0
            var length = socklen_t(MemoryLayout<CInt>.size)
            guard getsockopt(fd, SOL_SOCKET, name, &value, &length) == 0 else {
                throw systemError("descriptor \(fd) is not a socket: getsockopt")
            }
            return value
        }
        guard try option(SO_DOMAIN) == AF_UNIX, try option(SO_TYPE) == Int32(SOCK_STREAM.rawValue) else {
            throw ControlError(.invalidConfiguration, "descriptor \(fd) is not a Unix stream socket")
        }
        guard try option(SO_ACCEPTCONN) == 1 else {
            throw ControlError(.invalidConfiguration, "descriptor \(fd) is a socket that is not listening")
        }
        guard fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 else { throw systemError("fcntl(\(fd), FD_CLOEXEC)") }
        return ListeningSocket(descriptor: fd, ownedPath: nil, fileIdentity: nil)
    }

    /// Closes the socket and removes the file the server created, unless someone replaced it.
    func close() {
        Glibc.close(descriptor)
        guard let ownedPath, let fileIdentity else { return }
        var status = stat()
        if lstat(ownedPath, &status) == 0,
            FileIdentity(device: UInt64(status.st_dev), inode: UInt64(status.st_ino)) == fileIdentity
        {
            unlink(ownedPath)
        }
    }

    private static func removeStaleSocket(at path: String) throws {
        var status = stat()
        guard lstat(path, &status) == 0 else {
            if errno == ENOENT { return }
            throw systemError("lstat(\(path))")
        }
        guard status.st_mode & S_IFMT == S_IFSOCK else {
            throw ControlError(.invalidConfiguration, "\(path) exists and is not a socket, refusing to replace it")
        }
        if (try? ControlClient.connectedSocket(path: path)).map({ Glibc.close($0) }) != nil {
            throw ControlError(.invalidConfiguration, "another daemon is listening on \(path)")
        }
        guard unlink(path) == 0 || errno == ENOENT else { throw systemError("unlink(\(path))") }
    }

    private static func systemError(_ what: String) -> ControlError {
        ControlError(.invalidConfiguration, "\(what) failed: \(String(cString: strerror(errno)))")
    }
}
