// SPDX-License-Identifier: Apache-2.0
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// fsync(2) of a file or a directory by path: what makes a written file's bytes, or a
/// rename into a directory, survive a power loss rather than only a killed process.
public enum FileSync {
    /// - Throws: ``TrainingError`` `.artifactUnreadable` naming the path and the system error.
    public static func sync(_ path: String) throws(TrainingError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw TrainingError(.artifactUnreadable, "cannot open \(path) to sync it: \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else {
            throw TrainingError(.artifactUnreadable, "fsync \(path): \(String(cString: strerror(errno)))")
        }
    }
}
