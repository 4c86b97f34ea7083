// SPDX-License-Identifier: Apache-2.0
import Foundation

/// Runs blocking socket code on a thread of its own.
///
/// The clients under test block in `recv`; on the few threads of Swift's cooperative pool
/// they would starve the server's handler tasks, which run on that same pool.
public enum BlockingThread {
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                continuation.resume(with: Result { try body() })
            }
            thread.start()
        }
    }
}
