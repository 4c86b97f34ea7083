// SPDX-License-Identifier: Apache-2.0
import Logging

/// A swift-log backend that writes structured entries to journald's native socket.
///
/// Metadata keys become journal fields: `dptune.job` → `DPTUNE_JOB`, and the three the
/// operators filter on most are also given their short names (`JOB_ID`, `ACCOUNT`,
/// `STRATEGY`), so `journalctl JOB_ID=…` works. Never put record contents in metadata.
public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level = .info

    private let label: String
    private let socketPath: String

    /// - Parameter socketPath: journald's socket; tests point it at a socket of their own.
    public init(label: String, socketPath: String = "/run/systemd/journal/socket") {
        self.label = label
        self.socketPath = socketPath
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        var fields: [(String, String)] = [
            ("MESSAGE", event.message.description),
            ("PRIORITY", String(Self.syslogPriority(event.level))),
            ("SYSLOG_IDENTIFIER", label),
            ("CODE_FILE", event.file),
            ("CODE_LINE", String(event.line)),
            ("CODE_FUNC", event.function),
        ]
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) {
            let name = Self.fieldName(key)
            guard !name.isEmpty else { continue }
            fields.append((name, value.description))
            if let alias = Self.aliases[key] { fields.append((alias, value.description)) }
        }
        _ = UnixDatagram.send(Self.encode(fields), to: socketPath)
    }

    private static let aliases = ["dptune.job": "JOB_ID", "dptune.account": "ACCOUNT", "dptune.strategy": "STRATEGY"]

    /// Journal field names are upper-case letters, digits and underscores, not starting with `_`.
    static func fieldName(_ key: String) -> String {
        let mapped = key.uppercased().map { ch -> Character in
            (ch.isASCII && (ch.isLetter || ch.isNumber)) ? ch : "_"
        }
        return String(String(mapped).drop(while: { $0 == "_" || $0.isNumber }).prefix(64))
    }

    /// The native protocol: `KEY=value\n`, or for values containing a newline,
    /// `KEY\n`, the value's length as 64-bit little-endian, the value, `\n`.
    static func encode(_ fields: [(String, String)]) -> [UInt8] {
        var out: [UInt8] = []
        for (key, value) in fields {
            let bytes = Array(value.utf8)
            out += Array(key.utf8)
            if bytes.contains(UInt8(ascii: "\n")) {
                out.append(UInt8(ascii: "\n"))
                withUnsafeBytes(of: UInt64(bytes.count).littleEndian) { out += $0 }
            } else {
                out.append(UInt8(ascii: "="))
            }
            out += bytes
            out.append(UInt8(ascii: "\n"))
        }
        return out
    }

    static func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }
}
