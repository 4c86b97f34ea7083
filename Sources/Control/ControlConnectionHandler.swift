// SPDX-License-Identifier: Apache-2.0
import Foundation
import NIOCore

/// Sent down a connection's pipeline when the server shuts down gracefully.
struct ControlShutdownEvent: Sendable {}

/// The limits and policy every connection of one server applies.
struct ControlConnectionSettings: Sendable {
    var adminGroup: gid_t?
    var requestTimeout: TimeAmount
    var maxRequestBytes: Int
}

/// One client connection: line framing, one request at a time, timeouts, the permission
/// check, and the `watch` stream.
///
/// The channel runs with `autoRead` off: the handler asks for more bytes only while it has
/// room, so a client that sends faster than the daemon answers is slowed down by the kernel
/// instead of filling memory. The same holds the other way: while the channel is not
/// writable (the client leaves its answers unread), no further request is taken, so a
/// client that pipelines requests and never reads stalls on its own full socket instead of
/// growing the daemon's outbound buffer. Requests on one connection are answered in order.
///
/// - Important: Everything here runs on the channel's event loop; work for the
///   ``ControlHandler`` runs in tasks that hop back through `NIOLoopBound`.
final class ControlConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum Phase {
        /// Waiting for the next request line, under the request deadline.
        case waiting
        /// A request is with the ``ControlHandler``.
        case handling
        /// A `watch` request (its id) is streaming events.
        case watching(id: Int?, task: Task<Void, Never>)
        /// The connection is being closed; nothing more is sent.
        case closing
    }

    private let handler: any ControlHandler
    private let peer: PeerCredentials
    private let connection: ControlConnectionID
    private let settings: ControlConnectionSettings
    /// The task answering the latest request, so the handler hears of the close only after it.
    private var latestTask: Task<Void, Never>?
    private var phase = Phase.waiting
    private var buffer = ByteBuffer()
    /// Bytes at the front of `buffer` already searched for a newline.
    private var scanned = 0
    private var inputClosed = false
    private var stopRequested: Bool
    private var deadline: Scheduled<Void>?
    private var lastWrite: EventLoopFuture<Void>?

    init(
        handler: any ControlHandler, peer: PeerCredentials, connection: ControlConnectionID,
        settings: ControlConnectionSettings, stopRequested: Bool
    ) {
        self.handler = handler
        self.peer = peer
        self.connection = connection
        self.settings = settings
        self.stopRequested = stopRequested
    }

    // MARK: Channel events

    func channelActive(context: ChannelHandlerContext) {
        armDeadline(context: context)
        advance(context: context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        if case .watching(_, let task) = phase { task.cancel() }
        phase = .closing
        let (handler, connection, latestTask) = (handler, connection, latestTask)
        Task {
            await latestTask?.value
            await handler.connectionClosed(connection)
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        buffer.writeBuffer(&bytes)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        advance(context: context)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        // The client read enough of its answers: take the next request.
        if context.channel.isWritable { advance(context: context) }
        context.fireChannelWritabilityChanged()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case ChannelEvent.inputClosed:
            inputClosed = true
            advance(context: context)
        case is ControlShutdownEvent:
            stopRequested = true
            switch phase {
            case .waiting:
                close(context: context)
            case .watching(let id, let task):
                task.cancel()
                send(.response(id: id, .failure(ControlError(.shuttingDown, "the daemon is stopping"))), context: context)
                close(context: context)
            case .handling, .closing:
                break
            }
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        close(context: context)
    }

    // MARK: Framing

    /// Takes the next step: dispatch a complete line, refuse an oversized or truncated one,
    /// or ask for more bytes.
    private func advance(context: ChannelHandlerContext) {
        switch phase {
        case .closing:
            return
        case .handling, .watching:
            // Keep reading so a hang-up is noticed, but buffer at most one request's worth.
            if !inputClosed && buffer.readableBytes <= settings.maxRequestBytes { context.read() }
            return
        case .waiting:
            break
        }
        if stopRequested {
            close(context: context)
            return
        }
        // Answers the client has not read yet are past the high watermark: neither answer
        // nor read more until it catches up (`channelWritabilityChanged`). The request
        // deadline keeps running, so a client that never reads is closed after it.
        guard context.channel.isWritable else { return }
        while let length = nextLineLength() {
            var line = buffer.readBytes(length: length) ?? []
            buffer.moveReaderIndex(forwardBy: 1)
            buffer.discardReadBytes()
            scanned = 0
            if line.last == UInt8(ascii: "\r") { line.removeLast() }
            if length > settings.maxRequestBytes {
                refuse(ControlError(.requestTooLarge, "request line exceeds \(settings.maxRequestBytes) bytes"), context: context)
                return
            }
            if line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) { continue }
            dispatch(Data(line), context: context)
            return
        }
        if buffer.readableBytes > settings.maxRequestBytes {
            refuse(ControlError(.requestTooLarge, "request line exceeds \(settings.maxRequestBytes) bytes"), context: context)
        } else if inputClosed {
            if buffer.readableBytes > 0 {
                refuse(ControlError(.malformedRequest, "connection closed in the middle of a request line"), context: context)
            } else {
                close(context: context)
            }
        } else {
            context.read()
        }
    }

    /// The length of the first complete line in `buffer` (without its newline), if any.
    private func nextLineLength() -> Int? {
        let start = scanned
        let found = buffer.withUnsafeReadableBytes { bytes -> Int? in
            guard bytes.count > start, let base = bytes.baseAddress else { return nil }
            guard let hit = memchr(base + start, Int32(UInt8(ascii: "\n")), bytes.count - start) else { return nil }
            return base.distance(to: UnsafeRawPointer(hit))
        }
        if found == nil { scanned = buffer.readableBytes }
        return found
    }

    // MARK: Requests

    private func dispatch(_ line: Data, context: ChannelHandlerContext) {
        deadline?.cancel()
        phase = .handling
        let (id, parsed) = ControlWire.decodeRequest(line)
        let request: ControlRequest
        switch parsed {
        case .failure(let error):
            finish(id: id, .failure(error), context: context)
            return
        case .success(let value):
            request = value
        }
        if request.method.changesState && !peer.isAdmin(adminGroup: settings.adminGroup) {
            let group = settings.adminGroup.map { "in group \($0)" } ?? "root (no admin group is configured)"
            let refusal = ControlError(
                .permissionDenied,
                "\(request.method.rawValue) changes daemon state and needs root or a member \(group); caller is uid \(peer.uid)")
            finish(id: id, .failure(refusal), context: context)
            return
        }
        let bound = LoopBoundConnection(connection: self, context: context)
        let caller = Caller(handler: handler, peer: peer, connection: connection)
        (phase, latestTask) = Self.spawn(request, id: id, caller: caller, bound: bound)
    }

    /// Who asks the handler: the peer on this connection.
    private struct Caller: Sendable {
        let handler: any ControlHandler
        let peer: PeerCredentials
        let connection: ControlConnectionID
    }

    /// Starts the task that answers `request`; returns the phase the connection is in while
    /// it runs, and the task.
    private static func spawn(
        _ request: ControlRequest, id: Int?, caller: Caller, bound: LoopBoundConnection
    ) -> (Phase, Task<Void, Never>) {
        guard case .watch(let jobID) = request else {
            let task = Task {
                let outcome = await answer(request, caller: caller)
                bound.execute { $0.finish(id: id, outcome, context: $1) }
            }
            return (.handling, task)
        }
        let task = Task {
            guard let outcome = await watch(jobID: jobID, id: id, caller: caller, bound: bound) else { return }
            bound.execute { $0.finish(id: id, outcome, context: $1) }
        }
        return (.watching(id: id, task: task), task)
    }

    /// Asks the handler, checking that the answer has the shape the method promises.
    private static func answer(_ request: ControlRequest, caller: Caller) async -> Result<ControlResult, ControlError> {
        do {
            let result = try await caller.handler.handle(request, peer: caller.peer, connection: caller.connection)
            guard result.answers(request.method) else {
                return .failure(ControlError(.internal, "the daemon answered \(request.method.rawValue) with the wrong kind of result"))
            }
            return .success(result)
        } catch let error as ControlError {
            return .failure(error)
        } catch {
            return .failure(ControlError(.internal, "\(error)"))
        }
    }

    /// Forwards the job's events, then answers with the job as it ended; nil when cancelled
    /// because the client left or the server is stopping.
    private static func watch(
        jobID: String, id: Int?, caller: Caller, bound: LoopBoundConnection
    ) async -> Result<ControlResult, ControlError>? {
        let events: AsyncStream<ProgressEvent>
        do {
            events = try await caller.handler.watch(jobID: jobID, peer: caller.peer)
        } catch let error as ControlError {
            return .failure(error)
        } catch {
            return .failure(ControlError(.internal, "\(error)"))
        }
        for await event in events {
            bound.execute { $0.forward(event, id: id, context: $1) }
        }
        if Task.isCancelled { return nil }
        return await answer(.job(id: jobID), caller: caller)
    }

    private func forward(_ event: ProgressEvent, id: Int?, context: ChannelHandlerContext) {
        // Events are snapshots: drop one rather than queue without bound for a slow reader.
        guard case .watching = phase, context.channel.isWritable else { return }
        send(.event(id: id, event), context: context)
    }

    /// Sends the response and goes back to waiting for the next request.
    private func finish(id: Int?, _ outcome: Result<ControlResult, ControlError>, context: ChannelHandlerContext) {
        switch phase {
        case .handling, .watching: break
        case .waiting, .closing: return
        }
        send(.response(id: id, outcome), context: context)
        phase = .waiting
        armDeadline(context: context)
        advance(context: context)
    }

    /// Answers a request that cannot be read further (too large, truncated, too slow), then closes.
    private func refuse(_ error: ControlError, context: ChannelHandlerContext) {
        send(.response(id: nil, .failure(error)), context: context)
        close(context: context)
    }

    // MARK: Output and lifecycle

    private func send(_ message: ControlMessage, context: ChannelHandlerContext) {
        let data: Data
        do {
            data = try ControlWire.encode(message)
        } catch {
            guard case .response(let id, _) = message,
                let fallback = try? ControlWire.encode(
                    .response(id: id, .failure(ControlError(.internal, "the daemon's answer could not be encoded: \(error)"))))
            else { return }
            data = fallback
        }
        var out = context.channel.allocator.buffer(capacity: data.count)
        out.writeBytes(data)
        lastWrite = context.writeAndFlush(wrapOutboundOut(out))
    }

    private func armDeadline(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = context.eventLoop.assumeIsolated().scheduleTask(in: settings.requestTimeout) {
            self.deadlineExpired(context: context)
        }
    }

    private func deadlineExpired(context: ChannelHandlerContext) {
        guard case .waiting = phase else { return }
        let seconds = Double(settings.requestTimeout.nanoseconds) / 1e9
        let message =
            !context.channel.isWritable
            ? "answers left unread for \(seconds) s"
            : buffer.readableBytes > 0 ? "request incomplete after \(seconds) s" : "no request within \(seconds) s"
        refuse(ControlError(.timeout, message), context: context)
    }

    /// Closes once everything written so far has reached the socket, or after one more
    /// request timeout if the client does not read it.
    private func close(context: ChannelHandlerContext) {
        if case .closing = phase { return }
        if case .watching(_, let task) = phase { task.cancel() }
        phase = .closing
        deadline?.cancel()
        let channel = context.channel
        guard let lastWrite else {
            channel.close(promise: nil)
            return
        }
        lastWrite.whenComplete { _ in channel.close(promise: nil) }
        channel.eventLoop.scheduleTask(in: settings.requestTimeout) { channel.close(promise: nil) }
    }
}

/// A connection handler and its context, carried through a task and used back on their
/// event loop only.
private struct LoopBoundConnection: Sendable {
    private let connection: NIOLoopBound<ControlConnectionHandler>
    private let context: NIOLoopBound<ChannelHandlerContext>

    init(connection: ControlConnectionHandler, context: ChannelHandlerContext) {
        self.connection = NIOLoopBound(connection, eventLoop: context.eventLoop)
        self.context = NIOLoopBound(context, eventLoop: context.eventLoop)
    }

    func execute(_ body: @escaping @Sendable (ControlConnectionHandler, ChannelHandlerContext) -> Void) {
        context.eventLoop.execute { [connection, context] in body(connection.value, context.value) }
    }
}
