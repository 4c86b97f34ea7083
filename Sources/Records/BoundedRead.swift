// SPDX-License-Identifier: Apache-2.0
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads an open file to its end, holding no more than a bound, or nothing at all
/// (``pieces(of:_:)``): what turns up in the daemon's folders (a manifest, a journal, a
/// plugin, a dataset to hash) may be of any size, and a file may grow while it is read.
public enum BoundedRead {
    public enum Outcome: Sendable {
        case data(Data)
        /// More than the bound arrived; what was read is dropped.
        case tooLarge
        /// `read(2)` failed with this `errno`.
        case failed(errno: Int32)
    }

    /// Reads `descriptor` from its position to end of file.
    public static func toEnd(of descriptor: Int32, maxBytes: Int) -> Outcome {
        var data = Data()
        var tooLarge = false
        if let error = pieces(of: descriptor, { piece in
            guard data.count + piece.count <= maxBytes else {
                tooLarge = true
                return false
            }
            data.append(contentsOf: piece)
            return true
        }) {
            return .failed(errno: error)
        }
        return tooLarge ? .tooLarge : .data(data)
    }

    /// Passes what `descriptor` holds from its position to end of file to `body`, one
    /// `read(2)` at a time, until the end or until `body` returns false; nothing is kept.
    ///
    /// - Returns: the `errno` of a failed `read(2)`, or nil.
    public static func pieces(of descriptor: Int32, _ body: (UnsafeRawBufferPointer) -> Bool) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return errno
            }
            if count == 0 { return nil }
            let more = buffer.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0.prefix(count))) }
            if !more { return nil }
        }
    }
}
