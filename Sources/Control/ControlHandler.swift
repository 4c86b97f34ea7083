// SPDX-License-Identifier: Apache-2.0

/// One client connection of a ``ControlServer``, for state a handler keeps while it is open
/// (an upload in progress). Never reused during the life of the server.
public struct ControlConnectionID: Sendable, Hashable, CustomStringConvertible {
    public let rawValue: UInt64

    public init(rawValue: UInt64) { self.rawValue = rawValue }

    public var description: String { "connection \(rawValue)" }
}

/// What the daemon plugs into ``ControlServer``: it answers requests; the server does the
/// framing, parsing, timeouts and the permission check.
///
/// - Important: Methods are called concurrently from many connections and must be safe to
///   call from any task.
public protocol ControlHandler: Sendable {
    /// Answers every request except `watch`.
    ///
    /// State-changing requests (`cancel`, `plugins.reload`, `submit.*`) reach this method only
    /// from a peer that ``PeerCredentials/isAdmin(adminGroup:)``; `peer` is passed for auditing
    /// and for finer rules of the daemon's own. The result must be the shape
    /// ``ControlResult/answers(_:)`` expects for the request, or the caller gets `internal`.
    ///
    /// - Parameter connection: the connection the request came on; requests of one
    ///   connection arrive one at a time, in order.
    /// - Throws: ``ControlError`` to refuse with its code (e.g. `.notFound`); any other error
    ///   is sent as `internal` with its description.
    func handle(_ request: ControlRequest, peer: PeerCredentials, connection: ControlConnectionID) async throws -> ControlResult

    /// The progress of job `id` from now until it ends.
    ///
    /// The server forwards every event, then, when the stream finishes, asks ``handle(_:peer:connection:)``
    /// for `.job(id:)` and sends that as the final response. A job already ended gives a
    /// stream that finishes at once. The server stops iterating when the client goes away.
    ///
    /// - Throws: ``ControlError`` `.notFound` for an unknown job.
    func watch(jobID: String, peer: PeerCredentials) async throws -> AsyncStream<ProgressEvent>

    /// `connection` closed, and its last request has been answered (or abandoned): no
    /// request of it arrives after this call, so what the handler kept for it can go.
    func connectionClosed(_ connection: ControlConnectionID) async
}

extension ControlHandler {
    /// Handlers that keep nothing per connection need not be told.
    public func connectionClosed(_ connection: ControlConnectionID) async {}
}
