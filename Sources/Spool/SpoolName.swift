// SPDX-License-Identifier: Apache-2.0
import Records

/// What a file name in the spool means: a dataset `NAME.jsonl` or the manifest
/// `NAME.manifest.json` that travels with it.
///
/// Names come from whoever can write into `incoming/`, so anything that could escape the
/// folder (`/`, `..`), hide (a leading dot), confuse a terminal or log (control characters,
/// bytes that are not UTF-8) or overflow the 255-byte name limit once suffixed is refused.
public enum SpoolName: Sendable, Hashable {
    case dataset(stem: String)
    case manifest(stem: String)

    public static let datasetSuffix = ".jsonl"
    public static let manifestSuffix = ".manifest.json"
    public static let resultSuffix = ".result.json"
    public static let errorSuffix = ".error.json"
    /// Leaves room for a collision suffix and `.manifest.json` within NAME_MAX (255).
    public static let maxLength = 200

    /// - Throws: ``IntakeError`` `unsafe_path` saying what is wrong with the name.
    public init(_ name: String) throws(IntakeError) {
        try Self.checkSafe(name)
        if name.hasSuffix(Self.manifestSuffix), name.count > Self.manifestSuffix.count {
            self = .manifest(stem: String(name.dropLast(Self.manifestSuffix.count)))
        } else if name.hasSuffix(Self.datasetSuffix), name.count > Self.datasetSuffix.count {
            self = .dataset(stem: String(name.dropLast(Self.datasetSuffix.count)))
        } else {
            throw IntakeError(
                .unsafePath, "\(Self.quoted(name)) must be NAME.jsonl (or NAME.manifest.json beside it)")
        }
    }

    public var stem: String {
        switch self {
        case .dataset(let stem), .manifest(let stem): stem
        }
    }

    public var datasetName: String { stem + Self.datasetSuffix }
    public var manifestName: String { stem + Self.manifestSuffix }
    public var resultName: String { stem + Self.resultSuffix }

    private static func checkSafe(_ name: String) throws(IntakeError) {
        let reason: String? =
            if name.isEmpty { "is empty" }
            else if name.contains("/") { "contains \"/\"" }
            else if name.contains("..") { "contains \"..\"" }
            else if name.hasPrefix(".") { "starts with a dot" }
            else if name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                "contains a control character"
            } else if name.unicodeScalars.contains("\u{FFFD}") { "is not valid UTF-8" }
            else if name.utf8.count > maxLength { "is longer than \(maxLength) bytes" }
            else { nil }
        if let reason { throw IntakeError(.unsafePath, "the name \(quoted(name)) \(reason)") }
    }

    /// The name with control characters escaped, safe to put in a message or a log line.
    static func quoted(_ name: String) -> String {
        var quoted = "\""
        for scalar in name.unicodeScalars.prefix(maxLength) {
            quoted += scalar.properties.generalCategory == .control ? scalar.escaped(asASCII: true) : String(scalar)
        }
        return quoted + (name.unicodeScalars.count > maxLength ? "…\"" : "\"")
    }
}
