// SPDX-License-Identifier: Apache-2.0

/// Why a worker cannot train its job (before the first step).
public struct JobWorkerError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: String {
            case jobUnreadable = "job_unreadable"
            case datasetMissing = "dataset_missing"
            case unknownBackbone = "unknown_backbone"
            case wrongPlugin = "wrong_plugin"
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }
        /// The job record is missing, malformed, or the job is not running.
        public static let jobUnreadable = Code(.jobUnreadable)
        /// The job's dataset is no longer in the spool's `accepted/`.
        public static let datasetMissing = Code(.datasetMissing)
        /// The job's backbone id is not in the config's model registry (any more).
        public static let unknownBackbone = Code(.unknownBackbone)
        /// The plugin file provides another strategy than the job's.
        public static let wrongPlugin = Code(.wrongPlugin)
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

    public static func == (lhs: JobWorkerError, rhs: JobWorkerError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
    public var description: String { "\(code): \(message)" }
}
