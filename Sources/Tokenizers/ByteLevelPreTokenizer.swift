// SPDX-License-Identifier: Apache-2.0

/// GPT-2's pre-tokenization regex, matched by hand over UTF-8.
///
/// The pattern is
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
/// Every alternative is either a fixed contraction or an optional space followed by a
/// maximal run of one character class, so leftmost-first matching reduces to: classify
/// each scalar as letter, number, whitespace or other, and cut at class changes. The one
/// subtle case is a whitespace run followed by non-space: `\s+(?!\S)` then stops one scalar
/// early, so that the last space can start the next word (`"  a"` → `" "`, `" a"`).
/// Oniguruma, which Hugging Face uses, takes `\s` as Unicode White_Space, as here, and
/// its letter and number classes are those of Unicode 16.0.
struct ByteLevelPreTokenizer: Sendable {
    let kind: PreTokenizerKind

    private enum Class: UInt8 { case letter, number, whitespace, other }

    /// Calls `body` with the byte range of each word of `bytes[range]`, in order.
    func forEachWord(in bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>, _ body: (Range<Int>) -> Void) {
        guard kind == .smollm else {
            splitGPT2(bytes, range, body)
            return
        }
        var start = range.lowerBound
        var index = start
        while index < range.upperBound {
            let (scalar, length) = bytes.scalar(at: index)
            if Self.classify(scalar) == .number {
                if start < index { splitGPT2(bytes, start..<index, body) }
                body(index..<index + length)
                start = index + length
            }
            index += length
        }
        if start < range.upperBound { splitGPT2(bytes, start..<range.upperBound, body) }
    }

    private func splitGPT2(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ body: (Range<Int>) -> Void) {
        let end = range.upperBound
        var index = range.lowerBound
        while index < end {
            let byte = bytes[index]
            if byte == UInt8(ascii: "'"), let length = Self.contractionLength(bytes, index + 1, end) {
                body(index..<index + 1 + length)
                index += 1 + length
                continue
            }
            if byte == UInt8(ascii: " "), index + 1 < end {
                let (next, nextLength) = bytes.scalar(at: index + 1)
                let nextClass = Self.classify(next)
                if nextClass != .whitespace {
                    let runEnd = Self.endOfRun(bytes, from: index + 1 + nextLength, end, nextClass)
                    body(index..<runEnd)
                    index = runEnd
                    continue
                }
            }
            let (scalar, length) = bytes.scalar(at: index)
            let scalarClass = Self.classify(scalar)
            if scalarClass != .whitespace {
                let runEnd = Self.endOfRun(bytes, from: index + length, end, scalarClass)
                body(index..<runEnd)
                index = runEnd
                continue
            }
            var runEnd = index + length
            var lastStart = index
            while runEnd < end {
                let (next, nextLength) = bytes.scalar(at: runEnd)
                guard Self.classify(next) == .whitespace else { break }
                lastStart = runEnd
                runEnd += nextLength
            }
            if runEnd == end || lastStart == index {
                body(index..<runEnd)
                index = runEnd
            } else {
                body(index..<lastStart)
                index = lastStart
            }
        }
    }

    /// Length after the apostrophe of `s|t|re|ve|m|ll|d` at `index`, if one starts there.
    private static func contractionLength(_ bytes: UnsafeBufferPointer<UInt8>, _ index: Int, _ end: Int) -> Int? {
        guard index < end else { return nil }
        switch bytes[index] {
        case UInt8(ascii: "s"), UInt8(ascii: "t"), UInt8(ascii: "m"), UInt8(ascii: "d"):
            return 1
        case UInt8(ascii: "r"), UInt8(ascii: "v"):
            return index + 1 < end && bytes[index + 1] == UInt8(ascii: "e") ? 2 : nil
        case UInt8(ascii: "l"):
            return index + 1 < end && bytes[index + 1] == UInt8(ascii: "l") ? 2 : nil
        default:
            return nil
        }
    }

    private static func endOfRun(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, _ end: Int, _ runClass: Class) -> Int {
        var index = start
        while index < end {
            let byte = bytes[index]
            if byte < 0x80 {
                guard asciiClass[Int(byte)] == runClass else { break }
                index += 1
            } else {
                let (scalar, length) = bytes.scalar(at: index)
                guard classify(scalar) == runClass else { break }
                index += length
            }
        }
        return index
    }

    private static let asciiClass: [Class] = (0..<128).map { code in
        switch code {
        case 0x41...0x5A, 0x61...0x7A: return .letter
        case 0x30...0x39: return .number
        case 0x09...0x0D, 0x20: return .whitespace
        default: return .other
        }
    }

    @inline(__always)
    private static func classify(_ scalar: Unicode.Scalar) -> Class {
        if scalar.value < 0x80 { return asciiClass[Int(scalar.value)] }
        let properties = scalar.properties
        // The reference's Oniguruma has Unicode 16.0 tables: later scalars are unassigned
        // there, hence "other" (checked against tokenizers 0.23 for every scalar).
        guard let age = properties.age, age.major <= 16 else { return .other }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return properties.isWhitespace ? .whitespace : .other
        }
    }
}
