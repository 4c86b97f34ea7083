// SPDX-License-Identifier: Apache-2.0

/// A model directory whose `config.json` or weights the engine cannot use.
///
/// Equality compares the code only, so codes can be added without breaking callers.
public struct ModelLoadingError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: Sendable, Hashable {
            case badConfig, unsupportedArchitecture, missingWeight, weightShapeMismatch
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// `config.json` is missing, is not JSON, or lacks or misstates a field.
        public static let badConfig = Code(.badConfig)
        /// The config names a model type, activation or embedding the engine does not implement.
        public static let unsupportedArchitecture = Code(.unsupportedArchitecture)
        /// A weight the architecture needs is not in the weights file.
        public static let missingWeight = Code(.missingWeight)
        /// A weight has a shape other than the config implies.
        public static let weightShapeMismatch = Code(.weightShapeMismatch)

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

    public static func == (lhs: ModelLoadingError, rhs: ModelLoadingError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
    public var description: String { "\(code): \(message)" }
}
