// SPDX-License-Identifier: Apache-2.0
import Dispatch
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One run of a child process that answers with a line on its standard output: the plugin
/// probe and the job preflight, which keep plugin code out of the daemon.
///
/// A child still running at the deadline gets SIGKILL, not SIGTERM: plugin code may catch
/// or ignore SIGTERM, and the child keeps nothing worth a clean exit. (A grandchild holding
/// the child's descriptors would still hold the end back, since `Process` waits for them
/// too; dptuned's children start none.)
struct ShortLivedChild {
    enum End: Equatable {
        case exited(Int32)
        case killedBySignal(Int32)
        case timedOut
    }

    /// The last non-empty line the child printed; a plugin may print before the answer.
    let lastLine: Data
    let end: End

    /// Runs the child to its end, blocking the calling thread.
    ///
    /// - Throws: what `Process.run()` throws when the child cannot start.
    init(executable: URL, arguments: [String], timeout: Duration) throws {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let timedOut = Mutex(false)
        let deadline = DispatchWorkItem {
            timedOut.withLock { $0 = true }
            kill(process.processIdentifier, SIGKILL)
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(Int(timeout / .milliseconds(1))), execute: deadline)
        let bytes = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        deadline.cancel()
        lastLine = bytes.split(separator: UInt8(ascii: "\n")).last.map { Data($0) } ?? Data()
        if timedOut.withLock({ $0 }) {
            end = .timedOut
        } else if process.terminationReason == .uncaughtSignal {
            end = .killedBySignal(process.terminationStatus)
        } else {
            end = .exited(process.terminationStatus)
        }
    }
}
