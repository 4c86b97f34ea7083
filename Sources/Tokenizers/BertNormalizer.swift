// SPDX-License-Identifier: Apache-2.0
import Foundation

/// BERT's text normalization and word splitting, fused into one pass over the UTF-8 bytes.
///
/// Reproduces Hugging Face `BertNormalizer` followed by `BertPreTokenizer` (the pipeline
/// of the original BERT `BasicTokenizer`), in their order, scalar by scalar:
///
/// 1. clean text: drop NUL, U+FFFD and "other" scalars (Cc, Cf, Co, Cs; not unassigned
///    ones, as the reference does) except tab/newline/CR; whitespace becomes a space;
///    categories are those of Unicode 8.0, as in the reference (see `referenceCategory`);
/// 2. CJK ideographs become words of their own;
/// 3. accent stripping: NFD, then drop nonspacing marks (Mn) — on by default with lowercasing;
/// 4. lowercasing, per scalar (no final-sigma context, as the reference);
/// 5. split on whitespace (dropped) and on punctuation (kept, one scalar per word), where
///    punctuation is Unicode P* or any printable ASCII symbol (so BERT also splits off
///    `$ + < = > ^ | ~` and the backtick, which Unicode calls symbols).
///
/// Printable ASCII, the bulk of real input, takes a table-driven path with no Unicode lookups.
struct BertNormalizer: Sendable {
    var cleanText = true
    var handleChineseChars = true
    var stripAccents = true
    var lowercase = true

    /// Calls `body` with the UTF-8 of each normalized word of `bytes[range]`, in order.
    func forEachWord(in bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>, _ body: ([UInt8]) -> Void) {
        var word: [UInt8] = []
        word.reserveCapacity(32)
        func flush() {
            if !word.isEmpty {
                body(word)
                word.removeAll(keepingCapacity: true)
            }
        }
        func appendNormalized(_ scalar: Unicode.Scalar) {
            if scalar.properties.isWhitespace {
                flush()
            } else if Self.isPunctuation(scalar) {
                flush()
                word.append(contentsOf: String(scalar).utf8)
                flush()
            } else {
                word.append(contentsOf: String(scalar).utf8)
            }
        }

        var index = range.lowerBound
        while index < range.upperBound {
            let byte = bytes[index]
            if byte < 0x80 {
                index += 1
                switch Self.asciiClass[Int(byte)] {
                case .control where cleanText:
                    break
                case .control:
                    // Vertical tab and form feed are White_Space, the rest of C0 is not.
                    if byte == 0x0B || byte == 0x0C { flush() } else { word.append(byte) }
                case .whitespace:
                    flush()
                case .punctuation:
                    flush()
                    word.append(byte)
                    flush()
                case .upper:
                    word.append(lowercase ? byte | 0x20 : byte)
                case .plain:
                    word.append(byte)
                }
                continue
            }
            let (scalar, length) = bytes.scalar(at: index)
            index += length
            if cleanText {
                if scalar == "\u{FFFD}" || Self.isControl(scalar) { continue }
                if scalar.properties.isWhitespace {
                    flush()
                    continue
                }
            }
            let isChinese = handleChineseChars && Self.isChineseCharacter(scalar)
            if isChinese { flush() }
            for normalized in normalize(scalar) { appendNormalized(normalized) }
            if isChinese { flush() }
        }
        flush()
    }

    /// Accent stripping then lowercasing of one non-ASCII scalar.
    private func normalize(_ scalar: Unicode.Scalar) -> [Unicode.Scalar] {
        var stripped: [Unicode.Scalar]
        if stripAccents, Self.isInReferenceVersion(scalar) {
            stripped = String(scalar).decomposedStringWithCanonicalMapping.unicodeScalars
                .filter { Self.referenceCategory($0) != .nonspacingMark }
        } else {
            stripped = [scalar]
        }
        guard lowercase else { return stripped }
        return stripped.flatMap { $0.properties.lowercaseMapping.unicodeScalars }
    }

    private enum ASCIIClass { case control, whitespace, punctuation, upper, plain }

    private static let asciiClass: [ASCIIClass] = (0..<128).map { code in
        switch code {
        case 0x09, 0x0A, 0x0D, 0x20: return .whitespace
        case 0x00..<0x20, 0x7F: return .control
        case 0x21...0x2F, 0x3A...0x40, 0x5B...0x60, 0x7B...0x7E: return .punctuation
        case 0x41...0x5A: return .upper
        default: return .plain
        }
    }

    /// Unicode "other" categories that clean_text removes (for non-ASCII scalars).
    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        switch referenceCategory(scalar) {
        case .control, .format, .privateUse, .surrogate: return true
        default: return false
        }
    }

    private static func isPunctuation(_ scalar: Unicode.Scalar) -> Bool {
        if scalar.value < 0x80 { return asciiClass[Int(scalar.value)] == .punctuation }
        switch referenceCategory(scalar) {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
            .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }

    /// Whether the reference's Unicode 8.0 tables know `scalar` (for later scalars it
    /// neither decomposes nor categorizes them).
    private static func isInReferenceVersion(_ scalar: Unicode.Scalar) -> Bool {
        guard let age = scalar.properties.age else { return false }
        return age.major <= 8
    }

    /// The general category as the reference sees it: Hugging Face's categories come from
    /// Unicode 8.0 tables, so a scalar assigned later counts as unassigned (it is then
    /// neither removed, nor stripped, nor split off).
    private static func referenceCategory(_ scalar: Unicode.Scalar) -> Unicode.GeneralCategory? {
        guard isInReferenceVersion(scalar) else { return nil }
        // The scalars whose category changed after Unicode 8.0 (found by comparing every
        // scalar with tokenizers 0.23).
        switch scalar.value {
        case 0x166D, 0x111C9: return .otherPunctuation
        case 0x1734, 0x1171E: return .nonspacingMark
        case 0x1885, 0x1886: return .otherLetter
        case 0xA9BD: return .spacingMark
        default: return scalar.properties.generalCategory
        }
    }

    /// The CJK Unified Ideograph blocks BERT isolates (not Hangul, kana or CJK punctuation).
    private static func isChineseCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F,
            0x2B740...0x2B81F, 0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }
}
