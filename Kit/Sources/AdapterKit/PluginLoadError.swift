// SPDX-License-Identifier: Apache-2.0

/// Why a plugin file was refused. The daemon lists refused files with this message.
///
/// Equality compares the code only, so codes can be added without breaking callers.
public struct PluginLoadError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Value: String, Sendable, Hashable {
            case unreadable, notAPlugin = "not_a_plugin", abiMismatch = "abi_mismatch"
            case toolchainMismatch = "toolchain_mismatch", loadFailed = "load_failed"
            case missingSymbol = "missing_symbol", notAStrategy = "not_a_strategy", duplicate
        }
        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// The file could not be read or staged.
        public static let unreadable = Code(.unreadable)
        /// Not an ELF shared object, or one without a dptune ABI note.
        public static let notAPlugin = Code(.notAPlugin)
        /// Built against another plugin ABI version.
        public static let abiMismatch = Code(.abiMismatch)
        /// Built by another Swift toolchain than the host (Swift has no stable ABI here).
        public static let toolchainMismatch = Code(.toolchainMismatch)
        /// `dlopen` failed (missing dependency, bad relocation, …).
        public static let loadFailed = Code(.loadFailed)
        /// A required C entry point is absent.
        public static let missingSymbol = Code(.missingSymbol)
        /// The entry point returned something that is not an `AdapterStrategy`.
        public static let notAStrategy = Code(.notAStrategy)
        /// Another file already provides this strategy id and version.
        public static let duplicate = Code(.duplicate)

        public var description: String { value.rawValue }
    }

    public let code: Code
    public let path: String
    public let message: String
    /// The system's error behind an `unreadable` file, kept so that the daemon can tell a
    /// full staging disk (a shortage it waits out) from a file it can never load.
    public let cause: (any Error)?

    public init(_ code: Code, path: String, _ message: String, cause: (any Error)? = nil) {
        self.code = code
        self.path = path
        self.message = message
        self.cause = cause
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
    public var description: String { "\(path): \(code): \(message)" }
}
