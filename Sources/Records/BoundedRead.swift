// SPDX-License-Identifier: Apache-2.0
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads an open file to its end, holding no more than a bound: what turns up in the
/// daemon's folders (a manifest, a journal, a plugin) may be of any size, and a file may
/// grow while it is read.
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
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                return .failed(errno: errno)
            }
            if count == 0 { return .data(data) }
            guard data.count + count <= maxBytes else { return .tooLarge }
            data.append(contentsOf: buffer[0..<count])
        }
    }
}
