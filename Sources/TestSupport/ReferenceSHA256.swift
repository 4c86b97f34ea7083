// SPDX-License-Identifier: Apache-2.0
import Foundation

/// A file's SHA-256 by coreutils' `sha256sum`: a reference independent of the hash the
/// validator and the worker compute.
public enum ReferenceSHA256 {
    public static func of(path: String) throws -> String? {
        let process = Process()
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [path]
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        return text.split(separator: " ").first.map(String.init)
    }
}
