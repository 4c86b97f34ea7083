// SPDX-License-Identifier: Apache-2.0
import Foundation
import NIOCore
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The daemon's control socket (DESIGN §3.4): newline-delimited JSON requests from many
/// clients at once, answered by a ``ControlHandler``.
///
/// The server owns everything the protocol promises regardless of the daemon: framing with a
/// size limit, a deadline for each request to arrive, an answer (never a silent close) to
/// every line it cannot use, and the rule that only root or the admin group may change state.
///
/// Lifecycle: ``start()`` binds (or adopts) the socket and returns once clients can connect,
/// so the daemon can send `READY=1` after it; ``run()`` waits until ``shutdown()`` (or the
/// task's cancellation); shutdown stops accepting, lets each connection finish the request
/// in flight (ending `watch` streams with `shutting_down`), and closes them.
public final class ControlServer: Sendable {
    public struct Configuration: Sendable {
        /// Where the socket comes from.
        public enum Listener: Sendable {
            /// Create the socket file at `path`, mode 0660, owned by `group` when given.
            case path(String, group: gid_t?)
            /// Adopt a listening socket inherited from systemd (`sd_listen_fds`, fd 3).
            case adopted(descriptor: CInt)
        }

        public var listener: Listener
        /// Members of this group (besides root) may cancel, submit and reload plugins.
        public var adminGroup: gid_t?
        /// How long a connection may sit without delivering a complete request line.
        public var requestTimeout: Duration
        /// The largest request line accepted, newline excluded.
        public var maxRequestBytes: Int
        /// How long shutdown waits for in-flight requests before closing connections anyway.
        public var shutdownGracePeriod: Duration
        /// The most connections served at once; one more is answered `too_many_connections`
        /// and closed. Every socket peer may connect and a `watch` lasts as long as its job,
        /// so without a cap one peer could take every descriptor the daemon has, and with
        /// them the watchdog pings and the workers' pipes.
        public var maxConnections: Int

        public init(
            listener: Listener, adminGroup: gid_t? = nil, requestTimeout: Duration = .seconds(30),
            maxRequestBytes: Int = 1 << 20, shutdownGracePeriod: Duration = .seconds(10), maxConnections: Int = 64
        ) {
            self.listener = listener
            self.adminGroup = adminGroup
            self.requestTimeout = requestTimeout
            self.maxRequestBytes = maxRequestBytes
            self.shutdownGracePeriod = shutdownGracePeriod
            self.maxConnections = maxConnections
        }

        /// The id of the group `name` (for the socket group and the admin group of the config).
        ///
        /// - Throws: ``ControlError`` `.invalidConfiguration` if no such group exists.
        public static func groupID(named name: String) throws -> gid_t {
            var entry = Glibc.group()
            var found: UnsafeMutablePointer<Glibc.group>?
            var scratch = [CChar](repeating: 0, count: 16384)
            let status = getgrnam_r(name, &entry, &scratch, scratch.count, &found)
            guard status == 0, found != nil else {
                let reason = status == 0 ? "no such group" : String(cString: strerror(status))
                throw ControlError(.invalidConfiguration, "group \(name): \(reason)")
            }
            return entry.gr_gid
        }
    }

    private enum State {
        case idle
        case running(AcceptLoop)
        case stopping
        case stopped
    }

    private let configuration: Configuration
    private let handler: any ControlHandler
    private let group: any EventLoopGroup
    private let state = Mutex(State.idle)
    private let connections = ConnectionRegistry()
    private let connectionCount = Atomic<UInt64>(0)
    private let stopped = StopSignal()

    public init(
        configuration: Configuration, handler: any ControlHandler,
        eventLoopGroup: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) {
        self.configuration = configuration
        self.handler = handler
        self.group = eventLoopGroup
    }

    /// Binds or adopts the socket and starts accepting; clients can connect when it returns.
    ///
    /// - Throws: ``ControlError`` `.alreadyRunning` if called twice, `.invalidConfiguration`
    ///   if the socket cannot be set up (the message names the path or descriptor and why).
    public func start() throws {
        try state.withLock { state in
            guard case .idle = state else {
                throw ControlError(.alreadyRunning, "the control server was already started")
            }
            guard configuration.maxConnections >= 1 else {
                throw ControlError(
                    .invalidConfiguration, "maxConnections must be at least 1; found \(configuration.maxConnections)")
            }
            let socket: ListeningSocket =
                switch configuration.listener {
                case .path(let path, let group): try ListeningSocket.bind(path: path, group: group)
                case .adopted(let descriptor): try ListeningSocket.adopt(descriptor: descriptor)
                }
            let loop: AcceptLoop
            do {
                loop = try AcceptLoop(socket: socket, eventLoop: group.any()) { [self] fd, peer in
                    adopt(connection: fd, peer: peer)
                }
            } catch {
                socket.close()
                throw error
            }
            loop.start()
            state = .running(loop)
        }
    }

    /// Starts if needed, then serves until ``shutdown()`` completes; cancelling the calling
    /// task shuts the server down gracefully.
    public func run() async throws {
        let mustStart = state.withLock { state in
            if case .idle = state { return true }
            return false
        }
        if mustStart { try start() }
        await withTaskCancellationHandler {
            await stopped.wait()
        } onCancel: {
            Task { await self.shutdown() }
        }
    }

    /// Stops accepting, lets connections finish their request in flight, and closes them;
    /// returns when all are closed (or the grace period ran out).
    public func shutdown() async {
        let loop: AcceptLoop? = state.withLock { state in
            switch state {
            case .idle:
                state = .stopped
                stopped.fire()
                return nil
            case .running(let loop):
                state = .stopping
                return loop
            case .stopping, .stopped:
                return nil
            }
        }
        guard let loop else {
            await stopped.wait()
            return
        }
        await loop.stop()
        let open = connections.close()
        for channel in open {
            channel.pipeline.fireUserInboundEventTriggered(ControlShutdownEvent())
        }
        let deadline = group.any().scheduleTask(in: TimeAmount(configuration.shutdownGracePeriod)) {
            for channel in open { channel.close(promise: nil) }
        }
        for channel in open {
            try? await channel.closeFuture.get()
        }
        deadline.cancel()
        state.withLock { $0 = .stopped }
        stopped.fire()
    }

    /// Hands an accepted connection to NIO with a fresh connection handler, or refuses it
    /// when the server already serves its maximum.
    private func adopt(connection fd: CInt, peer: PeerCredentials) {
        // Only this (accept) thread adds connections, so the count can only fall meanwhile.
        guard connections.count < configuration.maxConnections else {
            refuse(connection: fd)
            return
        }
        let settings = ControlConnectionSettings(
            adminGroup: configuration.adminGroup,
            requestTimeout: TimeAmount(configuration.requestTimeout),
            maxRequestBytes: configuration.maxRequestBytes)
        let handler = self.handler
        let connections = self.connections
        let connection = ControlConnectionID(rawValue: connectionCount.wrappingAdd(1, ordering: .relaxed).newValue)
        let bootstrap = ClientBootstrap(group: group)
            .channelOption(.autoRead, value: false)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                let accepted = connections.insert(channel)
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ControlConnectionHandler(
                            handler: handler, peer: peer, connection: connection, settings: settings,
                            stopRequested: !accepted))
                }
            }
        // Waiting here (on the accept thread, never an event loop) makes `shutdown()` see every
        // connection accepted before the loop stopped.
        _ = try? bootstrap.withConnectedSocket(fd).wait()
    }

    /// Answers `too_many_connections` on a connection over the limit and closes it, without
    /// handing it to NIO: a flood of connections then costs the daemon one descriptor each
    /// only for as long as this takes.
    private func refuse(connection fd: CInt) {
        let refusal = ControlError(
            .tooManyConnections,
            "the daemon already serves \(configuration.maxConnections) connections; try again when one has ended")
        if let data = try? ControlWire.encode(.response(id: nil, .failure(refusal))) {
            // A fresh socket's send buffer is empty, so the line fits without waiting.
            _ = data.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT | MSG_NOSIGNAL)) }
        }
        // Closing with the client's request unread would end its stream with a reset after
        // the answer rather than a clean end of file: take what already arrived first.
        var scratch = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<16 {
            let count = scratch.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if count <= 0 { break }
        }
        Glibc.close(fd)
    }
}

/// Wakes everyone waiting in ``wait()`` once ``fire()`` has been called (and anyone who
/// waits later at once). A plain NIO promise would do, but one left unfulfilled when a server
/// that never started is dropped traps in debug builds.
final class StopSignal: Sendable {
    private struct Contents {
        var fired = false
        var waiting: [CheckedContinuation<Void, Never>] = []
    }

    private let contents = Mutex(Contents())

    func fire() {
        let waiting = contents.withLock { contents in
            contents.fired = true
            defer { contents.waiting.removeAll() }
            return contents.waiting
        }
        for continuation in waiting { continuation.resume() }
    }

    func wait() async {
        await withCheckedContinuation { continuation in
            let fired = contents.withLock { contents in
                if !contents.fired { contents.waiting.append(continuation) }
                return contents.fired
            }
            if fired { continuation.resume() }
        }
    }
}
