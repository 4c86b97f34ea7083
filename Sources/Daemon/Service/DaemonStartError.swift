// SPDX-License-Identifier: Apache-2.0

/// Why the daemon did not start; the message says what failed and what to inspect.
public struct DaemonStartError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: String {
            case ledgerUnusable = "ledger_unusable", accountsRefused = "accounts_refused", stateUnusable = "state_unusable"
            case alreadyRunning = "already_running"
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }
        /// The ledger is missing, foreign, newer, or fails its integrity check.
        public static let ledgerUnusable = Code(.ledgerUnusable)
        /// The accounts file is invalid or would lower a cap below what was spent.
        public static let accountsRefused = Code(.accountsRefused)
        /// The spool, job records, plugin store or control socket cannot be set up.
        public static let stateUnusable = Code(.stateUnusable)
        /// Another process holds the state directory, the spool or the ledger's folder.
        public static let alreadyRunning = Code(.alreadyRunning)
        public var description: String { value.rawValue }
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

    public static func == (lhs: DaemonStartError, rhs: DaemonStartError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
    public var description: String { message }
}
