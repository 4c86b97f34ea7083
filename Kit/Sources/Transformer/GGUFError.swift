// SPDX-License-Identifier: Apache-2.0

/// A GGUF file could not be read: what is wrong, where in which file, and what to do about it.
///
/// Equality compares the code only, so codes can be added without breaking callers.
public struct GGUFError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: Sendable, Hashable {
            case unreadable, badMagic, unsupportedVersion, truncated, lengthOutOfRange
            case unknownValueType, nestingTooDeep, invalidString, duplicateKey, badAlignment
            case unknownTensorType, duplicateTensorName, inconsistentDimensions
            case tensorOffsetOutOfRange, tensorMisaligned, overlappingTensors
            case unsupportedTensorType, missingTensor, missingMetadata, invalidMetadata
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The file could not be opened, stat'ed or mapped (the message carries errno).
        public static let unreadable = Code(.unreadable)
        /// The first four bytes are not "GGUF".
        public static let badMagic = Code(.badMagic)
        /// The format version is not 2 or 3.
        public static let unsupportedVersion = Code(.unsupportedVersion)
        /// The file ends inside the header, the metadata, the tensor infos or a tensor's data.
        public static let truncated = Code(.truncated)
        /// A string length or array count is larger than the rest of the file could hold.
        public static let lengthOutOfRange = Code(.lengthOutOfRange)
        /// A metadata value type id is not one of the thirteen GGUF defines.
        public static let unknownValueType = Code(.unknownValueType)
        /// Arrays nest deeper than any real file does.
        public static let nestingTooDeep = Code(.nestingTooDeep)
        /// A key, string value or tensor name is not valid UTF-8.
        public static let invalidString = Code(.invalidString)
        /// A metadata key occurs twice.
        public static let duplicateKey = Code(.duplicateKey)
        /// `general.alignment` is not a positive power of two held in an unsigned integer.
        public static let badAlignment = Code(.badAlignment)
        /// A tensor's ggml type id is not a type ggml defines.
        public static let unknownTensorType = Code(.unknownTensorType)
        /// Two tensors share one name.
        public static let duplicateTensorName = Code(.duplicateTensorName)
        /// A tensor has no dimensions, more than four, a zero or huge dimension, or a row that is
        /// not a whole number of quantization blocks.
        public static let inconsistentDimensions = Code(.inconsistentDimensions)
        /// A tensor's data starts beyond the end of the file.
        public static let tensorOffsetOutOfRange = Code(.tensorOffsetOutOfRange)
        /// A tensor's data offset is not a multiple of the file's alignment.
        public static let tensorMisaligned = Code(.tensorMisaligned)
        /// Two tensors' data ranges overlap.
        public static let overlappingTensors = Code(.overlappingTensors)
        /// The tensor type is valid ggml but this reader cannot dequantize it.
        public static let unsupportedTensorType = Code(.unsupportedTensorType)
        /// No tensor has the requested name.
        public static let missingTensor = Code(.missingTensor)
        /// A metadata key the caller needs is absent.
        public static let missingMetadata = Code(.missingMetadata)
        /// A metadata value has the wrong type or an impossible value.
        public static let invalidMetadata = Code(.invalidMetadata)

        public var description: String { "\(value)" }
    }

    public let code: Code
    /// The file being read.
    public let path: String
    /// The byte offset in the file where the problem was found, when there is one.
    public let offset: Int?
    public let message: String
    /// What the user can do about it.
    public let hint: String
    public let file: String
    public let line: Int

    public init(
        _ code: Code, path: String, offset: Int?, _ message: String, hint: String,
        file: String = #fileID, line: Int = #line
    ) {
        self.code = code
        self.path = path
        self.offset = offset
        self.message = message
        self.hint = hint
        self.file = file
        self.line = line
    }

    public static func == (lhs: GGUFError, rhs: GGUFError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    public var description: String {
        let place = offset.map { "\(path) at offset \($0)" } ?? path
        return "\(code): \(place): \(message) (\(hint))"
    }
}
