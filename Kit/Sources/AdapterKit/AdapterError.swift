// SPDX-License-Identifier: Apache-2.0

/// Why a strategy cannot make or run an adapter for a job.
public struct AdapterError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: String, Sendable, Hashable {
            case invalidOption = "invalid_option"
            case unsupportedBackbone = "unsupported_backbone"
            case unsupportedObjective = "unsupported_objective"
            case incompatibleParameters = "incompatible_parameters"
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// A strategy option is unknown, of the wrong type or out of range.
        public static let invalidOption = Code(.invalidOption)
        /// The strategy cannot attach to this backbone (e.g. BiTFiT on a model without biases).
        public static let unsupportedBackbone = Code(.unsupportedBackbone)
        /// The strategy does not support the job's objective.
        public static let unsupportedObjective = Code(.unsupportedObjective)
        /// Saved parameters do not fit the adapter (missing tensor, wrong shape).
        public static let incompatibleParameters = Code(.incompatibleParameters)

        public var description: String { value.rawValue }
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public static func == (lhs: AdapterError, rhs: AdapterError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
    public var description: String { "\(code): \(message)" }
}
