// SPDX-License-Identifier: Apache-2.0
import Foundation
import NIOCore

/// Accepts connections on the listening socket on a thread of its own and hands each one,
/// with its peer credentials, to `onAccept`.
///
/// Why not NIO's `ServerBootstrap`: NIO never exposes an accepted socket's descriptor, and
/// its typed socket-option call returns a fixed-size value and drops the length the kernel
/// reports, so `SO_PEERGROUPS` (a variable-length list) cannot be read through it. Accepting
/// here, reading the credentials from the raw descriptor, and then adopting the connection
/// with `ClientBootstrap.withConnectedSocket` keeps everything after `accept(2)` in NIO.
final class AcceptLoop: Sendable {
    private let socket: ListeningSocket
    private let wakeRead: CInt
    private let wakeWrite: CInt
    private let finished: EventLoopPromise<Void>
    private let onAccept: @Sendable (CInt, PeerCredentials) -> Void

    init(
        socket: ListeningSocket, eventLoop: any EventLoop,
        onAccept: @escaping @Sendable (CInt, PeerCredentials) -> Void
    ) throws {
        var pipeEnds: [CInt] = [0, 0]
        guard pipe(&pipeEnds) == 0 else {
            throw ControlError(.invalidConfiguration, "pipe failed: \(String(cString: strerror(errno)))")
        }
        for end in pipeEnds { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        let flags = fcntl(socket.descriptor, F_GETFL)
        guard flags >= 0, fcntl(socket.descriptor, F_SETFL, flags | O_NONBLOCK) == 0 else {
            Glibc.close(pipeEnds[0])
            Glibc.close(pipeEnds[1])
            throw ControlError(.invalidConfiguration, "fcntl(O_NONBLOCK) failed: \(String(cString: strerror(errno)))")
        }
        self.socket = socket
        self.wakeRead = pipeEnds[0]
        self.wakeWrite = pipeEnds[1]
        self.finished = eventLoop.makePromise(of: Void.self)
        self.onAccept = onAccept
    }

    func start() {
        let thread = Thread { [self] in
            acceptUntilWoken()
            finished.succeed()
        }
        thread.name = "dptune-control-accept"
        thread.start()
    }

    /// Stops accepting, waits for the thread to leave, and closes the listening socket.
    func stop() async {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
        try? await finished.futureResult.get()
        socket.close()
        Glibc.close(wakeRead)
        Glibc.close(wakeWrite)
    }

    private func acceptUntilWoken() {
        var descriptors = [
            pollfd(fd: socket.descriptor, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
        ]
        while true {
            descriptors[0].revents = 0
            descriptors[1].revents = 0
            guard poll(&descriptors, 2, -1) >= 0 || errno == EINTR else { return }
            if descriptors[1].revents != 0 { return }
            if descriptors[0].revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 { return }
            if descriptors[0].revents & Int16(POLLIN) != 0 { acceptPending() }
        }
    }

    /// Accepts until the backlog is empty.
    private func acceptPending() {
        while true {
            // Glibc's module does not export accept4, so close-on-exec is set just after: a
            // process spawned in that instant would inherit the connection.
            let client = accept(socket.descriptor, nil, nil)
            if client < 0 {
                switch errno {
                case EINTR, ECONNABORTED:
                    continue
                case EMFILE, ENFILE, ENOBUFS, ENOMEM:
                    // Out of descriptors or memory: back off instead of spinning on poll.
                    var wake = pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)
                    _ = poll(&wake, 1, 100)
                    return
                default:
                    return
                }
            }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            guard let peer = try? PeerCredentials.read(socket: client) else {
                Glibc.close(client)
                continue
            }
            onAccept(client, peer)
        }
    }
}
