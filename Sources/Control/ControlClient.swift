// SPDX-License-Identifier: Apache-2.0
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A blocking client of the control socket, for `dptunectl` and tests.
///
/// One request at a time on one connection. Plain system calls rather than NIO: the CLI
/// sends one request and exits, and must not start event-loop threads to do so.
///
/// - Important: Not thread-safe; use one client per thread.
public final class ControlClient {
    public static let defaultSocketPath = "/run/dptune/control.sock"

    /// Responses can be long (a ledger holds every charge ever made), but not unbounded.
    private static let maxResponseBytes = 256 << 20

    public let socketPath: String
    private let descriptor: CInt
    private let timeout: Duration?
    private var received: [UInt8] = []
    private var nextID = 1

    /// Connects to the daemon.
    ///
    /// - Parameters:
    ///   - socketPath: The daemon's control socket.
    ///   - timeout: How long to wait for each response (not for `watch` events); nil waits forever.
    /// - Throws: ``ControlError`` `.daemonNotRunning` when nothing listens at `socketPath`
    ///   (the message carries a one-line hint), `.connectionFailed` otherwise.
    public init(socketPath: String = ControlClient.defaultSocketPath, timeout: Duration? = nil) throws(ControlError) {
        self.socketPath = socketPath
        self.timeout = timeout
        self.descriptor = try Self.connectedSocket(path: socketPath)
    }

    deinit {
        Glibc.close(descriptor)
    }

    /// Sends `request` and returns the daemon's answer; for `watch`, events are skipped and
    /// the final answer returned.
    ///
    /// - Throws: ``ControlError`` with the daemon's code when it refuses (e.g. `.notFound`,
    ///   `.permissionDenied`), or a local code when the connection fails.
    @discardableResult
    public func send(_ request: ControlRequest) throws(ControlError) -> ControlResult {
        try exchange(request) { _ in }
    }

    /// Streams the progress of job `id` to `onEvent` until the job ends.
    ///
    /// - Returns: The job as it ended.
    /// - Throws: ``ControlError`` as ``send(_:)``.
    public func watch(jobID: String, onEvent: (ProgressEvent) -> Void) throws(ControlError) -> JobDetail {
        guard case .job(let detail) = try exchange(.watch(id: jobID), onEvent: onEvent) else {
            throw ControlError(.protocolViolation, "watch ended without the job's detail")
        }
        return detail
    }

    private func exchange(_ request: ControlRequest, onEvent: (ProgressEvent) -> Void) throws(ControlError) -> ControlResult {
        let id = nextID
        nextID += 1
        let line: Data
        do {
            line = try ControlWire.encode(request: request, id: id)
        } catch {
            throw ControlError(.internal, "request could not be encoded: \(error)")
        }
        try setReceiveTimeout(request.method == .watch ? nil : timeout)
        try write(line)
        while true {
            let message = try ControlWire.decodeMessage(try readLine(), answering: request.method)
            switch message {
            case .event(let eventID, let event):
                guard eventID == id else {
                    throw ControlError(.protocolViolation, "event for request \(eventID.map(String.init) ?? "null"), expected \(id)")
                }
                onEvent(event)
            case .response(let responseID, let outcome):
                // A refusal of the framing (too large, timeout) cannot name the request: id null.
                guard responseID == id || responseID == nil else {
                    throw ControlError(.protocolViolation, "response to request \(responseID.map(String.init) ?? "null"), expected \(id)")
                }
                return try outcome.get()
            }
        }
    }

    // MARK: Socket

    /// Opens a stream socket connected to `path`.
    static func connectedSocket(path: String) throws(ControlError) -> CInt {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !path.isEmpty, path.utf8.count < capacity else {
            throw ControlError(.connectionFailed, "socket path \(path) is empty or longer than \(capacity - 1) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8)
            raw[path.utf8.count] = 0
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            throw ControlError(.connectionFailed, "socket() failed: \(String(cString: strerror(errno)))")
        }
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard status == 0 else {
            let code = errno
            Glibc.close(fd)
            switch code {
            case ENOENT, ECONNREFUSED:
                throw ControlError(
                    .daemonNotRunning,
                    "dptuned is not running (nothing listens on \(path)); start it with `systemctl start dptuned` or pass --socket")
            case EACCES:
                throw ControlError(
                    .connectionFailed, "permission denied on \(path): join the socket's group (dptune) or run as root")
            default:
                throw ControlError(.connectionFailed, "cannot connect to \(path): \(String(cString: strerror(code)))")
            }
        }
        return fd
    }

    private func setReceiveTimeout(_ timeout: Duration?) throws(ControlError) {
        let (seconds, attoseconds) = timeout?.components ?? (0, 0)
        var value = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        guard setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size)) == 0 else {
            throw ControlError(.connectionFailed, "setsockopt(SO_RCVTIMEO) failed: \(String(cString: strerror(errno)))")
        }
    }

    /// Writes all of `data`; stops quietly if the daemon hung up, since it may have
    /// answered (e.g. `request_too_large`) before closing, and the answer is what matters.
    private func write(_ data: Data) throws(ControlError) {
        let failure: CInt? = data.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let sent = Glibc.send(descriptor, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
                if sent < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += sent
            }
            return nil
        }
        if let failure, failure != EPIPE, failure != ECONNRESET {
            throw ControlError(.connectionFailed, "sending to \(socketPath) failed: \(String(cString: strerror(failure)))")
        }
    }

    /// Reads up to the next newline (excluded).
    private func readLine() throws(ControlError) -> Data {
        var searched = 0
        while true {
            if let newline = received[searched...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = Data(received[..<newline])
                received.removeSubrange(...newline)
                return line
            }
            searched = received.count
            guard received.count <= Self.maxResponseBytes else {
                throw ControlError(.protocolViolation, "response longer than \(Self.maxResponseBytes) bytes")
            }
            var chunk = [UInt8](repeating: 0, count: 64 << 10)
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if count > 0 {
                received.append(contentsOf: chunk[..<count])
            } else if count == 0 {
                throw ControlError(.connectionFailed, "the daemon closed the connection without answering")
            } else if errno == EAGAIN || errno == EWOULDBLOCK {
                throw ControlError(.connectionFailed, "no answer from the daemon within the timeout")
            } else if errno != EINTR {
                throw ControlError(.connectionFailed, "reading from \(socketPath) failed: \(String(cString: strerror(errno)))")
            }
        }
    }
}
