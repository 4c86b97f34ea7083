// SPDX-License-Identifier: Apache-2.0
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Unix sockets made by hand, as systemd or a crashed daemon would leave them.
enum SocketFiles {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// A stream socket bound to `path`, listening if asked.
    static func bind(path: String, listen shouldListen: Bool) throws -> CInt {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8)
            raw[path.utf8.count] = 0
        }
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard status == 0, !shouldListen || listen(fd, 16) == 0 else {
            let message = String(cString: strerror(errno))
            close(fd)
            throw Failure(description: "bind/listen \(path): \(message)")
        }
        return fd
    }

    /// The `stat` of `path` (without following a symlink).
    static func status(_ path: String) throws -> stat {
        var status = stat()
        guard lstat(path, &status) == 0 else { throw Failure(description: "lstat \(path): \(String(cString: strerror(errno)))") }
        return status
    }
}
