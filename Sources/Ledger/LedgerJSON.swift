// SPDX-License-Identifier: Apache-2.0
import Foundation

/// The one place JSON columns are written and read, so every column uses the same form.
enum LedgerJSON {
    /// Encodes with sorted keys (stable text for stable rows). An infinite ρ(α) (a pure-DP
    /// or non-private mechanism at some order) is written as the string "Infinity".
    static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Decodes a JSON column; a column that does not decode means the file was damaged.
    ///
    /// - Throws: ``LedgerError`` `.integrityCheckFailed` naming the column.
    static func decode<T: Decodable>(_ type: T.Type, from text: String, column: String) throws -> T {
        do {
            let decoder = JSONDecoder()
            decoder.nonConformingFloatDecodingStrategy = .convertFromString(
                positiveInfinity: "Infinity", negativeInfinity: "-Infinity", nan: "NaN")
            return try decoder.decode(type, from: Data(text.utf8))
        } catch {
            throw LedgerError(
                .integrityCheckFailed, "column \(column) holds unreadable JSON \(text.prefix(80)): \(error)",
                failedCheck: "json columns")
        }
    }
}
