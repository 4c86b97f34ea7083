// SPDX-License-Identifier: Apache-2.0

/// A safetensors file that cannot be read or written, with the reason.
///
/// Equality compares the code only, so codes can be added without breaking callers.
public struct SafetensorsError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: Sendable, Hashable {
            case cannotOpen, truncatedFile, badHeaderLength, badJSON, badEntry, unknownDtype
            case offsetsOutOfRange, sizeMismatch, overlap, missingTensor, wrongDtype, cannotWrite
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The file does not exist or cannot be opened or mapped.
        public static let cannotOpen = Code(.cannotOpen)
        /// The file ends before its 8-byte length prefix or before the header it announces.
        public static let truncatedFile = Code(.truncatedFile)
        /// The announced header length is zero or beyond the 100 MB the format allows.
        public static let badHeaderLength = Code(.badHeaderLength)
        /// The header is not a UTF-8 JSON object.
        public static let badJSON = Code(.badJSON)
        /// An entry lacks `dtype`, `shape` or `data_offsets`, or one of them is malformed.
        public static let badEntry = Code(.badEntry)
        /// A dtype other than F32, F16, BF16 or I64.
        public static let unknownDtype = Code(.unknownDtype)
        /// `data_offsets` reach outside the data section of the file.
        public static let offsetsOutOfRange = Code(.offsetsOutOfRange)
        /// `data_offsets` span a byte count other than shape × dtype size.
        public static let sizeMismatch = Code(.sizeMismatch)
        /// Two tensors claim the same bytes.
        public static let overlap = Code(.overlap)
        /// A tensor the caller asked for is not in the file.
        public static let missingTensor = Code(.missingTensor)
        /// A tensor exists but has a dtype or shape the caller cannot use.
        public static let wrongDtype = Code(.wrongDtype)
        /// Writing the file failed.
        public static let cannotWrite = Code(.cannotWrite)

        public var description: String { "\(value)" }
    }

    public let code: Code
    public let message: String
    /// The system's error behind a file that `cannotWrite`, kept so that the daemon can tell
    /// a full disk (a shortage it waits out) from a fault of the job.
    public let cause: (any Error)?
    public let file: String
    public let line: Int

    public init(_ code: Code, _ message: String, cause: (any Error)? = nil, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.cause = cause
        self.file = file
        self.line = line
    }

    public static func == (lhs: SafetensorsError, rhs: SafetensorsError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
    public var description: String { "\(code): \(message)" }
}
