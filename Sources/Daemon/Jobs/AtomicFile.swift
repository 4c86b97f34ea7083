// SPDX-License-Identifier: Apache-2.0
import Foundation
import Training
#if canImport(Glibc)
import Glibc
#endif

/// Replaces a file so that a crash leaves the old or the new contents, never a mix.
enum AtomicFile {
    /// Writes `data` to a fresh temporary file beside `url`, fsyncs it, renames it over
    /// `url` and fsyncs the directory.
    static func write(_ data: Data, to url: URL) throws {
        let directory = url.deletingLastPathComponent().path
        let temporary = directory + "/.\(url.lastPathComponent).\(UUID().uuidString).tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw failure("open", temporary) }
        var ok = data.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return true }
            var offset = 0
            while offset < buffer.count {
                let written = Glibc.write(descriptor, base + offset, buffer.count - offset)
                if written < 0 { if errno == EINTR { continue } else { return false } }
                offset += written
            }
            return true
        }
        ok = ok && fsync(descriptor) == 0
        close(descriptor)
        guard ok, rename(temporary, url.path) == 0 else {
            let error = failure("write", url.path)
            unlink(temporary)
            throw error
        }
        try FileSync.sync(directory)
    }

    private static func failure(_ call: String, _ path: String) -> CocoaError {
        CocoaError(.fileWriteUnknown, userInfo: [
            NSFilePathErrorKey: path,
            NSLocalizedDescriptionKey: "\(call) \(path): \(String(cString: strerror(errno)))",
        ])
    }
}
