// SPDX-License-Identifier: Apache-2.0

/// Why `dptuned.toml` was refused.
public struct DaemonConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: String { case unreadable, invalid }
        private let value: Value
        private init(_ value: Value) { self.value = value }
        /// The file could not be read.
        public static let unreadable = Code(.unreadable)
        /// A syntax error, an unknown key or a bad value; ``DaemonConfigError/sourceLine`` says where.
        public static let invalid = Code(.invalid)
        public var description: String { value.rawValue }
    }

    public let code: Code
    public let message: String
    /// The line of the file at fault, when known.
    public let sourceLine: Int?
    public let file: String
    public let line: Int

    public init(_ code: Code, _ message: String, sourceLine: Int? = nil, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.sourceLine = sourceLine
        self.file = file
        self.line = line
    }

    public static func == (lhs: DaemonConfigError, rhs: DaemonConfigError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
    public var description: String { "\(code): \(message)" }
}
