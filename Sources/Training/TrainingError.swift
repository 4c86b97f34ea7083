// SPDX-License-Identifier: Apache-2.0

/// Why a training job cannot run or continue.
public struct TrainingError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: String {
            case invalidRecord = "invalid_record"
            case invalidConfiguration = "invalid_configuration"
            case allocationRefused = "allocation_refused"
            case checkpointMismatch = "checkpoint_mismatch"
            case planMismatch = "plan_mismatch"
            case artifactUnreadable = "artifact_unreadable"
            case diverged
            case cancelled
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }
        /// A record does not fit the manifest (undeclared task or label).
        public static let invalidRecord = Code(.invalidRecord)
        /// The job's settings cannot be trained (unknown objective for the backbone, …).
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// The strategy's noise allocation would spend more privacy than planned.
        public static let allocationRefused = Code(.allocationRefused)
        /// A checkpoint belongs to another job or setting.
        public static let checkpointMismatch = Code(.checkpointMismatch)
        /// The job plans otherwise than the plan its ledger charge paid for.
        public static let planMismatch = Code(.planMismatch)
        /// A published adapter directory is missing a file or is malformed.
        public static let artifactUnreadable = Code(.artifactUnreadable)
        /// The adapter's parameters stopped being finite numbers (a learning rate or scale
        /// too large); such an adapter predicts nothing, so it is not published.
        public static let diverged = Code(.diverged)
        /// The job was asked to stop.
        public static let cancelled = Code(.cancelled)
        public var description: String { value.rawValue }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public static func == (lhs: TrainingError, rhs: TrainingError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
    public var description: String { "\(code): \(message)" }
}
