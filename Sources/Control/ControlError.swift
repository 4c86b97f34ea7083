// SPDX-License-Identifier: Apache-2.0

/// An error on the control socket: a refusal sent by the daemon, or a local failure of the
/// client or server.
///
/// The codes the daemon sends travel as strings in `{"error": {"code": …, "message": …}}`.
/// `Code` wraps that string rather than a closed enum so that a client built today can
/// still carry (and print) a code a newer daemon introduces. Equality compares the code only,
/// so codes can be added without breaking callers.
public struct ControlError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        /// The wire spelling, e.g. `not_found`.
        public let rawValue: String

        public init(rawValue: String) { self.rawValue = rawValue }

        // Codes the daemon sends.

        /// The line is not a JSON object of the expected shape (the message names what is wrong).
        public static let malformedRequest = Code(rawValue: "malformed_request")
        /// `"v"` is not a protocol version this daemon speaks.
        public static let unsupportedVersion = Code(rawValue: "unsupported_version")
        /// `"method"` names no request this daemon knows.
        public static let unknownMethod = Code(rawValue: "unknown_method")
        /// The job, account or plugin named does not exist.
        public static let notFound = Code(rawValue: "not_found")
        /// The caller is neither root nor in the admin group and asked to change state.
        public static let permissionDenied = Code(rawValue: "permission_denied")
        /// A request line exceeded the size limit; the daemon closes the connection after it.
        public static let requestTooLarge = Code(rawValue: "request_too_large")
        /// No complete request arrived in time; the daemon closes the connection after it.
        public static let timeout = Code(rawValue: "timeout")
        /// The daemon is stopping and will not finish this request.
        public static let shuttingDown = Code(rawValue: "shutting_down")
        /// The daemon already serves as many connections as it allows; it closes this one
        /// after the answer, and a later attempt may succeed.
        public static let tooManyConnections = Code(rawValue: "too_many_connections")
        /// An upload cannot begin: the daemon already holds as many as it allows, on this
        /// connection or in all; a later attempt may succeed.
        public static let tooManyUploads = Code(rawValue: "too_many_uploads")
        /// A file to upload is larger than the daemon takes this way.
        public static let fileTooLarge = Code(rawValue: "file_too_large")
        /// A chunk does not start where the previous chunk of its file ended; the upload is ended.
        public static let offsetMismatch = Code(rawValue: "offset_mismatch")
        /// A chunk's data is not base64; the upload is ended.
        public static let invalidEncoding = Code(rawValue: "invalid_encoding")
        /// More or fewer bytes arrived than `submit.begin` announced; the upload is ended.
        public static let sizeMismatch = Code(rawValue: "size_mismatch")
        /// A file's SHA-256 differs from the client's at `submit.end`; the upload is ended.
        public static let checksumMismatch = Code(rawValue: "checksum_mismatch")
        /// A `cancel` came after the job's worker ended: its outcome stands and is being recorded.
        public static let notCancellable = Code(rawValue: "not_cancellable")
        /// The daemon's disk has no room for the request (a full spool); nothing of it was
        /// kept, and a later attempt may succeed once the operator makes room.
        public static let insufficientStorage = Code(rawValue: "insufficient_storage")
        /// The daemon failed; the message says how.
        public static let `internal` = Code(rawValue: "internal")

        // Local codes, never sent on the wire.

        /// Nothing listens on the socket path (ENOENT or ECONNREFUSED).
        public static let daemonNotRunning = Code(rawValue: "daemon_not_running")
        /// Any other failure to connect, send or receive.
        public static let connectionFailed = Code(rawValue: "connection_failed")
        /// The daemon sent something that is not a valid protocol message.
        public static let protocolViolation = Code(rawValue: "protocol_violation")
        /// The server configuration or socket cannot be used (the message names it).
        public static let invalidConfiguration = Code(rawValue: "invalid_configuration")
        /// A file to submit cannot be opened or read by the caller (the message names it).
        public static let unreadableFile = Code(rawValue: "unreadable_file")
        /// `start()` was called on a server that is already running or stopped.
        public static let alreadyRunning = Code(rawValue: "already_running")

        public var description: String { rawValue }
    }

    public let code: Code
    public let message: String
    public let file: String
    public let line: Int

    public init(_ code: Code, _ message: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
    }

    public static func == (lhs: ControlError, rhs: ControlError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
    public var description: String { "\(code): \(message)" }
}
