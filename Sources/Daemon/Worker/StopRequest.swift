// SPDX-License-Identifier: Apache-2.0
import Dispatch
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Records SIGTERM and SIGINT instead of dying of them; the training loop checks it
/// between steps and before it writes the adapter, so a stopped job ends after a whole
/// step and can settle what it owes (a worker its answer to the daemon, a foreground run
/// its ledger charge).
public final class StopRequest: Sendable {
    private let flag = Mutex(false)

    public init() {}

    /// Starts recording `signals`; the caller keeps the sources while it needs them.
    public func watch(_ signals: [Int32]) -> [any DispatchSourceSignal] {
        signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [self] in flag.withLock { $0 = true } }
            source.resume()
            return source
        }
    }

    public var requested: Bool { flag.withLock { $0 } }
}
