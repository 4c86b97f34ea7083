// SPDX-License-Identifier: Apache-2.0

/// Which pairs of datasets count as neighbours. Fixed when an accountant is created.
public enum NeighboringRelation: String, Sendable, Codable {
    /// One dataset is the other plus or minus one record (or one privacy unit).
    case addOrRemoveOne = "add_or_remove_one"
    /// One record (or unit) of one dataset is replaced by another.
    case replaceOne = "replace_one"
}

/// An accountant turns a sequence of ``DpEvent``s into an (ε, δ) guarantee.
///
/// Implementations keep their state only; the math lives in free functions.
/// `supports(_:)` is a dry run of the same traversal that `compose(_:count:)` applies,
/// so the two cannot drift apart.
public protocol PrivacyAccountant: Sendable {
    var neighboringRelation: NeighboringRelation { get }

    /// Everything composed so far, as one event.
    var ledger: DpEvent { get }

    /// Whether `event` can be composed; throws nothing and changes nothing.
    func supports(_ event: DpEvent) -> Bool

    /// Adds `count` adaptive runs of `event`.
    ///
    /// - Throws: ``PrivacyError`` with code `.unsupportedEvent` naming the sub-event that
    ///   this accountant cannot price, or `.gridTooLarge` when a discretizing accountant
    ///   cannot price it at its resolution; the accountant is then unchanged.
    mutating func compose(_ event: DpEvent, count: Int) throws

    /// The smallest ε this accountant can certify at `delta` for everything composed.
    func epsilon(delta: Double) throws -> Double

    /// The smallest δ this accountant can certify at `epsilon`.
    func delta(epsilon: Double) throws -> Double
}

extension PrivacyAccountant {
    public mutating func compose(_ event: DpEvent) throws { try compose(event, count: 1) }
}

/// An error from privacy accounting or calibration.
///
/// Equality compares the code only, so codes can be added without breaking callers.
public struct PrivacyError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: Sendable, Hashable {
            case unsupportedEvent, invalidArgument, calibrationFailed, stateMismatch
            case randomnessUnavailable, gridTooLarge
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The accountant cannot price some sub-event (the message names it).
        public static let unsupportedEvent = Code(.unsupportedEvent)
        /// A parameter is outside its domain (the message names it and its value).
        public static let invalidArgument = Code(.invalidArgument)
        /// No noise level in the search range meets the target.
        public static let calibrationFailed = Code(.calibrationFailed)
        /// Serialized accountant state belongs to another mechanism or relation.
        public static let stateMismatch = Code(.stateMismatch)
        /// The kernel's random number generator could not be read, so no secure noise can be made.
        public static let randomnessUnavailable = Code(.randomnessUnavailable)
        /// The event is of a kind the accountant prices, but its discretized loss grid would
        /// exceed the accountant's size limit (the message gives both): more noise, or a
        /// coarser grid, fits. Calibration reads it as "σ too small", not as a failure.
        public static let gridTooLarge = Code(.gridTooLarge)

        public var description: String { "\(value)" }
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

    public static func == (lhs: PrivacyError, rhs: PrivacyError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
    public var description: String { "\(code): \(message)" }
}
