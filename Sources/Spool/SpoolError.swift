// SPDX-License-Identifier: Apache-2.0
#if canImport(Glibc)
import Glibc
#endif

/// A failure of the spool itself (its directories, a system call), as opposed to an
/// ``IntakeError`` that refuses a data owner's file.
///
/// Equality compares the code only, so codes can be added without breaking callers.
public struct SpoolError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: Sendable, Hashable {
            case unusableDirectory, noSuchEntry, systemCallFailed
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// A spool folder is missing, not a directory, a symbolic link, or on another filesystem.
        public static let unusableDirectory = Code(.unusableDirectory)
        /// The entry is not (or no longer) in the folder it was expected in.
        public static let noSuchEntry = Code(.noSuchEntry)
        /// A system call failed; the message names it, its argument and `strerror`.
        public static let systemCallFailed = Code(.systemCallFailed)

        public var description: String { "\(value)" }
    }

    public let code: Code
    public let message: String
    /// The `errno` of a failed system call, when one failed.
    public let systemErrno: Int32?
    public let file: String
    public let line: Int

    public init(_ code: Code, _ message: String, systemErrno: Int32? = nil, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.systemErrno = systemErrno
        self.file = file
        self.line = line
    }

    /// Whether the spool's filesystem had no room (`ENOSPC`, `EDQUOT`): a condition the
    /// operator fixes and a later attempt survives, unlike the daemon's own failures.
    public var isOutOfSpace: Bool { systemErrno == ENOSPC || systemErrno == EDQUOT }

    public static func == (lhs: SpoolError, rhs: SpoolError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
    public var description: String { "\(code): \(message)" }
}
