// SPDX-License-Identifier: Apache-2.0

/// Why a dataset, a manifest or a spool entry was refused at intake.
///
/// This is what a data owner reads in `rejected/NAME.error.json`, so the ``Code`` raw value is
/// the wire `code`, the message names the bad value, and ``line`` points at the offending
/// line of the dataset (1-based) when there is one. Equality compares the code only, so codes
/// can be added without breaking callers.
public struct IntakeError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The machine-readable reason; its raw value is the `code` written to the wire.
    public struct Code: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        // Bytes and framing.
        public static let invalidUTF8 = Code(rawValue: "invalid_utf8")
        public static let lineTooLong = Code(rawValue: "line_too_long")
        public static let emptyDataset = Code(rawValue: "empty_dataset")
        public static let tooManyRecords = Code(rawValue: "too_many_records")
        public static let readFailed = Code(rawValue: "read_failed")
        // Record shape.
        public static let invalidJSON = Code(rawValue: "invalid_json")
        public static let notAnObject = Code(rawValue: "not_an_object")
        public static let missingField = Code(rawValue: "missing_field")
        public static let invalidField = Code(rawValue: "invalid_field")
        public static let unknownRole = Code(rawValue: "unknown_role")
        public static let missingAssistantMessage = Code(rawValue: "missing_assistant_message")
        // Dataset against manifest.
        public static let undeclaredLabel = Code(rawValue: "undeclared_label")
        public static let undeclaredTask = Code(rawValue: "undeclared_task")
        public static let missingUnit = Code(rawValue: "missing_unit")
        public static let deltaTooLarge = Code(rawValue: "delta_too_large")
        // Manifest and admission.
        public static let invalidManifest = Code(rawValue: "invalid_manifest")
        public static let unknownStrategy = Code(rawValue: "unknown_strategy")
        public static let unknownBackbone = Code(rawValue: "unknown_backbone")
        public static let unknownAccount = Code(rawValue: "unknown_account")
        /// The account exists but is closed: the accounts file no longer lists it.
        public static let accountClosed = Code(rawValue: "account_closed")
        public static let budgetExhausted = Code(rawValue: "budget_exhausted")
        /// The ledger could not be asked (an I/O or database failure), not a refusal.
        public static let admissionFailed = Code(rawValue: "admission_failed")
        /// Preparing the job as the worker will (adapter, backbone, encoded data) failed
        /// before admission: what the strategy refuses, the daemon cannot know by itself.
        public static let preparationFailed = Code(rawValue: "preparation_failed")
        /// The daemon stopped while it was checking the dataset: no refusal, and never
        /// written; the dataset stays in `incoming/` for the next start.
        public static let intakeStopped = Code(rawValue: "intake_stopped")
        /// The daemon could not finish checking the dataset for a cause of its host (a full
        /// disk, a ledger it cannot write, its own files unreadable), which says nothing about
        /// the dataset: no refusal, and never written; the dataset stays in `incoming/` and
        /// intake tries it again.
        public static let intakeDeferred = Code(rawValue: "intake_deferred")
        // Spool entries.
        public static let unsafePath = Code(rawValue: "unsafe_path")
        public static let notARegularFile = Code(rawValue: "not_a_regular_file")
    }

    public let code: Code
    public let message: String
    /// The 1-based line of the dataset at fault, when the fault is on one line.
    public let line: Int?
    /// Where in dptune the error was raised, for operators reading logs; never on the wire.
    public let sourceFile: String
    public let sourceLine: Int

    public init(
        _ code: Code, _ message: String, line: Int? = nil,
        sourceFile: String = #fileID, sourceLine: Int = #line
    ) {
        self.code = code
        self.message = message
        self.line = line
        self.sourceFile = sourceFile
        self.sourceLine = sourceLine
    }

    public static func == (lhs: IntakeError, rhs: IntakeError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    public var description: String {
        if let line { return "\(code) at line \(line): \(message)" }
        return "\(code): \(message)"
    }

    /// The same error with a dataset line attached (for errors found by a line-agnostic parser).
    func at(line: Int) -> IntakeError {
        IntakeError(code, message, line: line, sourceFile: sourceFile, sourceLine: sourceLine)
    }
}

extension IntakeError: Codable {
    private enum CodingKeys: String, CodingKey { case code, message, line }

    /// Decodes the wire form; the source location is not transmitted and reads as unknown.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            try container.decode(Code.self, forKey: .code),
            try container.decode(String.self, forKey: .message),
            line: try container.decodeIfPresent(Int.self, forKey: .line),
            sourceFile: "wire", sourceLine: 0)
    }

    /// Encodes the wire form `{"code", "message", "line"?}`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(code, forKey: .code)
        try container.encode(message, forKey: .message)
        try container.encodeIfPresent(line, forKey: .line)
    }
}
