// SPDX-License-Identifier: Apache-2.0

/// An error from loading a tokenizer or a chat template.
///
/// Equality compares the code only, so codes can be added without breaking callers.
public struct TokenizerError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: Sendable, Hashable {
            case unreadableFile, malformedFile, unsupportedConfiguration, invalidVocabulary,
                unsupportedTemplate
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The file could not be read (the message names the path).
        public static let unreadableFile = Code(.unreadableFile)
        /// The file is not valid JSON, or lacks a field a tokenizer needs (the message names it).
        public static let malformedFile = Code(.malformedFile)
        /// The file asks for a normalizer, pre-tokenizer, model or option we do not implement.
        public static let unsupportedConfiguration = Code(.unsupportedConfiguration)
        /// Tokens, merges or special tokens contradict each other (the message names the entry).
        public static let invalidVocabulary = Code(.invalidVocabulary)
        /// A chat template is not one this module can render exactly.
        public static let unsupportedTemplate = Code(.unsupportedTemplate)

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

    public static func == (lhs: TokenizerError, rhs: TokenizerError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
    public var description: String { "\(code): \(message)" }
}
