// SPDX-License-Identifier: Apache-2.0
import Foundation

/// A fresh directory under the system temporary directory, removed when the value is released.
///
/// Tests that create files (spool entries, datasets) each get their own, so they can run in
/// parallel.
public final class TemporaryDirectory: Sendable {
    public let url: URL

    public init(prefix: String = "dptune-test") throws {
        url = FileManager.default.temporaryDirectory
            .appendingPathComponent("\(prefix)-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }

    public var path: String { url.path }

    /// Writes `contents` to `name` (relative to the directory) and returns its path.
    @discardableResult
    public func write(_ name: String, _ contents: Data) throws -> String {
        let file = url.appendingPathComponent(name)
        try contents.write(to: file)
        return file.path
    }

    @discardableResult
    public func write(_ name: String, _ text: String) throws -> String {
        try write(name, Data(text.utf8))
    }
}
