// SPDX-License-Identifier: Apache-2.0
import Foundation
import Records
#if canImport(Glibc)
import Glibc
#endif

/// A file the daemon writes in the spool's `tmp/` before placing it (``SpoolDirectory/stage()``).
///
/// It carries the daemon's scratch name (`tmp/.dptuned-UUID.tmp`), so one that is never
/// placed (its upload abandoned, or the daemon killed) is removed at the next start by
/// ``SpoolDirectory/completeInterruptedMoves()`` like any scratch file. Mode 0600: it holds
/// a data owner's data, readable by the daemon only.
///
/// - Important: Not for concurrent use: one writer appends at a time.
public final class StagedFile: Sendable {
    /// Its name in `tmp/`.
    public let name: String
    let descriptor: Int32

    init(name: String, descriptor: Int32) {
        self.name = name
        self.descriptor = descriptor
    }

    deinit {
        close(descriptor)
    }

    /// Writes `bytes` at the end of the file (not fsynced; placing it does that).
    public func append(_ bytes: Data) throws(SpoolError) {
        try SpoolDirectory.writeAll(bytes, to: descriptor, name: "tmp/\(name)")
    }

    /// The whole file, or nil when it holds more than `maxBytes`.
    public func contents(maxBytes: Int) throws(SpoolError) -> Data? {
        guard lseek(descriptor, 0, SEEK_SET) == 0 else {
            throw SpoolError(.systemCallFailed, "lseek tmp/\(name) failed: \(String(cString: strerror(errno)))")
        }
        switch BoundedRead.toEnd(of: descriptor, maxBytes: maxBytes) {
        case .data(let data): return data
        case .tooLarge: return nil
        case .failed(let error):
            throw SpoolError(.systemCallFailed, "read tmp/\(name) failed: \(String(cString: strerror(error)))")
        }
    }

    func sync() throws(SpoolError) {
        guard fsync(descriptor) == 0 else {
            throw SpoolError(.systemCallFailed, "fsync tmp/\(name) failed: \(String(cString: strerror(errno)))")
        }
    }
}
