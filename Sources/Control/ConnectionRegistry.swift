// SPDX-License-Identifier: Apache-2.0
import NIOCore
import Synchronization

/// The open connections, so shutdown can reach each one.
final class ConnectionRegistry: Sendable {
    private struct Contents {
        var channels: [ObjectIdentifier: any Channel] = [:]
        var closed = false
    }

    private let contents = Mutex(Contents())

    /// Tracks `channel` until it closes; false (and not tracked) once shutdown has begun.
    func insert(_ channel: any Channel) -> Bool {
        let key = ObjectIdentifier(channel)
        let accepted = contents.withLock { contents in
            guard !contents.closed else { return false }
            contents.channels[key] = channel
            return true
        }
        if accepted {
            channel.closeFuture.whenComplete { [self] _ in
                _ = contents.withLock { $0.channels.removeValue(forKey: key) }
            }
        }
        return accepted
    }

    /// How many connections are open now.
    var count: Int { contents.withLock { $0.channels.count } }

    /// Refuses further connections and returns those still open.
    func close() -> [any Channel] {
        contents.withLock { contents in
            contents.closed = true
            return Array(contents.channels.values)
        }
    }
}
