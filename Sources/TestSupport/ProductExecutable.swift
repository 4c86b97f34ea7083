// SPDX-License-Identifier: Apache-2.0
import Foundation

/// Runs a built executable product (`dptunectl`, `dptuned`) the way a user would.
///
/// The product is looked up in ``BuildProducts/directory``.
public struct ProductExecutable: Sendable {
    /// The outcome of one run.
    public struct Result: Sendable {
        public let status: Int32
        public let standardOutput: String
        public let standardError: String
    }

    public let url: URL

    /// - Parameter name: the product's name, e.g. `"dptunectl"`.
    /// - Throws: ``ProductExecutableError`` if it is not in the build directory.
    public init(_ name: String) throws {
        let candidate = BuildProducts.executable(name)
        guard FileManager.default.isExecutableFile(atPath: candidate.path) else {
            throw ProductExecutableError(
                message: "product \(name) not found at \(candidate.path): build it first (swift build --build-tests)")
        }
        url = candidate
    }

    /// Runs the product with `arguments` (in `directory`, or the test's own current
    /// directory), waits for it, and collects its output.
    public func run(_ arguments: [String], in directory: URL? = nil) throws -> Result {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        process.currentDirectoryURL = directory
        let output = Pipe()
        let error = Pipe()
        process.standardOutput = output
        process.standardError = error
        try process.run()
        // Read both pipes to the end before waiting, so a chatty child cannot block on a full pipe.
        // The reader gets a thread of its own: blocked on a Dispatch worker, it would starve
        // Swift's concurrency pool, which shares those workers, and stall an in-process server.
        let errorData = LockedData()
        let errorRead = DispatchSemaphore(value: 0)
        Thread {
            errorData.set(error.fileHandleForReading.readDataToEndOfFile())
            errorRead.signal()
        }.start()
        let outputData = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        errorRead.wait()
        return Result(
            status: process.terminationStatus,
            standardOutput: String(decoding: outputData, as: UTF8.self),
            standardError: String(decoding: errorData.value, as: UTF8.self))
    }
}

/// The product could not be found or run.
public struct ProductExecutableError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// Bytes handed from the reader thread to the test thread.
private final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var data: Data?

    func set(_ newValue: Data) { lock.withLock { data = newValue } }
    var value: Data { lock.withLock { data ?? Data() } }
}
