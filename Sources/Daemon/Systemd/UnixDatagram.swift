// SPDX-License-Identifier: Apache-2.0
import Glibc

/// Sends one datagram to a Unix socket address given as a path or as `@name` (abstract).
///
/// Both sd_notify and the journal's native protocol are a single `sendto` on an
/// `AF_UNIX`/`SOCK_DGRAM` socket; doing it here keeps libsystemd out of the process.
enum UnixDatagram {
    /// - Returns: `true` if the datagram was handed to the kernel.
    static func send(_ payload: [UInt8], to address: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }

        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        var pathBytes = Array(address.utf8)
        let abstract = pathBytes.first == UInt8(ascii: "@")
        if abstract { pathBytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard !pathBytes.isEmpty, pathBytes.count < capacity else { return false }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
        }
        // An abstract address has no terminating NUL: its length is exactly the name's.
        let length = MemoryLayout<sa_family_t>.size + pathBytes.count + (abstract ? 0 : 1)
        let sent = payload.withUnsafeBytes { buffer in
            withUnsafePointer(to: &addr) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL), $0, socklen_t(length))
                }
            }
        }
        return sent == payload.count
    }
}
