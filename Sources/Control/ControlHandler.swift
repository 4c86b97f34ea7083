// SPDX-License-Identifier: Apache-2.0

/// What the daemon plugs into ``ControlServer``: it answers requests; the server does the
/// framing, parsing, timeouts and the permission check.
///
/// - Important: Methods are called concurrently from many connections and must be safe to
///   call from any task.
public protocol ControlHandler: Sendable {
    /// Answers every request except `watch`.
    ///
    /// State-changing requests (`cancel`, `plugins.reload`, `submit`) reach this method only
    /// from a peer that ``PeerCredentials/isAdmin(adminGroup:)``; `peer` is passed for auditing
    /// and for finer rules of the daemon's own. The result must be the shape
    /// ``ControlResult/answers(_:)`` expects for the request, or the caller gets `internal`.
    ///
    /// - Throws: ``ControlError`` to refuse with its code (e.g. `.notFound`); any other error
    ///   is sent as `internal` with its description.
    func handle(_ request: ControlRequest, peer: PeerCredentials) async throws -> ControlResult

    /// The progress of job `id` from now until it ends.
    ///
    /// The server forwards every event, then, when the stream finishes, asks ``handle(_:peer:)``
    /// for `.job(id:)` and sends that as the final response. A job already ended gives a
    /// stream that finishes at once. The server stops iterating when the client goes away.
    ///
    /// - Throws: ``ControlError`` `.notFound` for an unknown job.
    func watch(jobID: String, peer: PeerCredentials) async throws -> AsyncStream<ProgressEvent>
}
