// SPDX-License-Identifier: Apache-2.0
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A bare client socket for sending bytes the real client never would (broken JSON, huge or
/// half lines) and reading exactly what the server answers.
///
/// Blocking: use it from ``BlockingThread``, never directly on the test's task.
final class RawConnection {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let descriptor: CInt
    private var received: [UInt8] = []

    init(path: String, receiveTimeout: Double = 10) throws {
        descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8)
            raw[path.utf8.count] = 0
        }
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard status == 0 else {
            let message = String(cString: strerror(errno))
            close(descriptor)
            throw Failure(description: "connect \(path): \(message)")
        }
        var timeout = timeval(tv_sec: Int(receiveTimeout), tv_usec: Int(receiveTimeout.truncatingRemainder(dividingBy: 1) * 1e6))
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(descriptor) }

    /// Sends all of `bytes`; returns false if the server hung up first.
    @discardableResult
    func send(_ bytes: [UInt8]) throws -> Bool {
        try sendAll(bytes).sent == bytes.count
    }

    /// Sends `bytes` until all are sent, the server hangs up (EPIPE, ECONNRESET) or, with a
    /// send timeout set, a send makes no progress (EAGAIN).
    private func sendAll(_ bytes: [UInt8]) throws -> (sent: Int, stopped: Int32?) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes.withUnsafeBytes {
                Glibc.send(descriptor, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL))
            }
            if sent < 0 {
                if errno == EINTR { continue }
                if [EPIPE, ECONNRESET, EAGAIN, EWOULDBLOCK].contains(errno) { return (offset, errno) }
                throw Failure(description: "send: \(String(cString: strerror(errno)))")
            }
            offset += sent
        }
        return (offset, nil)
    }

    @discardableResult
    func send(_ text: String) throws -> Bool { try send(Array(text.utf8)) }

    /// Sends as much of `bytes` as the server takes, and stops once a send has made no
    /// progress for `stall` seconds (the server stopped reading and the socket is full).
    ///
    /// - Returns: how many bytes were sent.
    func sendUntilStalled(_ bytes: [UInt8], stall: Double) throws -> Int {
        var timeout = timeval(tv_sec: Int(stall), tv_usec: Int(stall.truncatingRemainder(dividingBy: 1) * 1e6))
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        defer {
            var never = timeval()
            setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &never, socklen_t(MemoryLayout<timeval>.size))
        }
        let (sent, stopped) = try sendAll(bytes)
        if let stopped, stopped == EPIPE || stopped == ECONNRESET {
            throw Failure(description: "send: \(String(cString: strerror(stopped)))")
        }
        return sent
    }

    func shutdownWrite() { shutdown(descriptor, Int32(SHUT_WR)) }

    /// The next line, or nil at end of stream (or reset by the server).
    func readLine() throws -> String? {
        while true {
            if let newline = received.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: received[..<newline], as: UTF8.self)
                received.removeSubrange(...newline)
                return line
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count == 0 { return nil }
            if count < 0 {
                if errno == EINTR { continue }
                // A Unix socket closed with our unread bytes still queued reports a reset
                // after the data it did send: that is the server closing too.
                if errno == ECONNRESET { return nil }
                throw Failure(description: "recv: \(String(cString: strerror(errno)))")
            }
            received.append(contentsOf: chunk[..<count])
        }
    }

    /// The next line parsed as a JSON object.
    func readObject() throws -> [String: Any] {
        guard let line = try readLine() else { throw Failure(description: "connection closed, expected a message") }
        guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
            throw Failure(description: "not a JSON object: \(line)")
        }
        return object
    }

    /// Whether the server closed the connection (end of stream, nothing more sent).
    func isClosedByServer() throws -> Bool {
        try readLine() == nil
    }
}

extension Dictionary where Key == String, Value == Any {
    /// `error.code` of a failed response.
    var errorCode: String? { (self["error"] as? [String: Any])?["code"] as? String }
}
