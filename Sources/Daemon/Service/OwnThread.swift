// SPDX-License-Identifier: Apache-2.0
import Foundation

/// Runs blocking work (a child to wait for, a whole dataset to read, a synchronous client)
/// on a thread of its own and awaits its result.
///
/// The cooperative pool has a thread per core, and the control socket, intake and the
/// watchdog's pings share them: work that blocks must not hold one.
public func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
    }
}
