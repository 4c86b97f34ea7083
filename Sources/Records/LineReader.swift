// SPDX-License-Identifier: Apache-2.0
#if canImport(Glibc)
import Glibc
#endif

/// Reads a file descriptor line by line in fixed-size chunks, hashing every byte it reads.
///
/// Memory stays bounded by `maxLineLength + chunkSize` whatever the input: a 100 MB line is
/// refused as soon as it outgrows the limit, without ever being held whole. Lines are split
/// on `\n`; a trailing `\r` is kept (JSON treats it as whitespace).
public final class LineReader {
    public struct Line {
        /// 1-based.
        public let number: Int
        public let bytes: [UInt8]
    }

    private let fileDescriptor: Int32
    private let maxLineLength: Int
    private var chunk: [UInt8]
    private var chunkStart = 0
    private var chunkEnd = 0
    private var atEndOfFile = false
    private var current: [UInt8] = []
    private var lineNumber = 0
    private var hasher = SHA256()

    /// Bytes read so far.
    public private(set) var byteCount = 0
    /// The most bytes held at once for one line; never above `maxLineLength`.
    public private(set) var peakLineBytes = 0

    /// - Parameters:
    ///   - fileDescriptor: an open, readable descriptor; the reader does not close it.
    ///   - maxLineLength: the longest line accepted, in bytes, without its `\n`.
    ///   - chunkSize: bytes per `read(2)`.
    public init(fileDescriptor: Int32, maxLineLength: Int, chunkSize: Int = 1 << 16) {
        precondition(maxLineLength > 0 && chunkSize > 0, "line and chunk sizes must be positive")
        self.fileDescriptor = fileDescriptor
        self.maxLineLength = maxLineLength
        self.chunk = [UInt8](repeating: 0, count: chunkSize)
    }

    /// The SHA-256 of every byte read; the file's content hash once ``next()`` returned `nil`.
    public var sha256: String { hasher.hexDigest() }

    /// The next line, or `nil` at end of file.
    ///
    /// - Throws: ``IntakeError`` `line_too_long` (with the line number) or `read_failed`.
    public func next() throws(IntakeError) -> Line? {
        current.removeAll(keepingCapacity: true)
        while true {
            if chunkStart == chunkEnd {
                if atEndOfFile { break }
                try fill()
                continue
            }
            let newline = chunk[chunkStart..<chunkEnd].firstIndex(of: UInt8(ascii: "\n"))
            let segmentEnd = newline ?? chunkEnd
            try append(chunkStart..<segmentEnd)
            if let newline {
                chunkStart = newline + 1
                lineNumber += 1
                return Line(number: lineNumber, bytes: current)
            }
            chunkStart = chunkEnd
        }
        guard !current.isEmpty else { return nil }
        lineNumber += 1
        return Line(number: lineNumber, bytes: current)
    }

    private func append(_ range: Range<Int>) throws(IntakeError) {
        guard current.count + range.count <= maxLineLength else {
            throw IntakeError(
                .lineTooLong, "line \(lineNumber + 1) is longer than the limit of \(maxLineLength) bytes",
                line: lineNumber + 1)
        }
        current.append(contentsOf: chunk[range])
        peakLineBytes = max(peakLineBytes, current.count)
    }

    private func fill() throws(IntakeError) {
        var readError: Int32 = 0
        let count = chunk.withUnsafeMutableBytes { buffer in
            var count: Int
            repeat {
                count = read(fileDescriptor, buffer.baseAddress, buffer.count)
                readError = count < 0 ? errno : 0
            } while readError == EINTR
            return count
        }
        guard count >= 0 else {
            throw IntakeError(.readFailed, "reading the dataset failed: \(String(cString: strerror(readError)))")
        }
        chunk.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        byteCount += count
        chunkStart = 0
        chunkEnd = count
        atEndOfFile = count == 0
    }
}

extension LineReader.Line {
    /// The line as a record's bytes: a byte-order mark dropped from line 1, nil when the
    /// line is blank (JSON whitespace only), which datasets may contain between records.
    public var recordBytes: ArraySlice<UInt8>? {
        let bytes = number == 1 && self.bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? self.bytes.dropFirst(3) : self.bytes[...]
        return bytes.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D || $0 == 0x0A } ? nil : bytes
    }
}
