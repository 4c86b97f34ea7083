// SPDX-License-Identifier: Apache-2.0
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Delivers signals as an async sequence: the handler only records the signal, and the
/// daemon's loop does the work.
final class SignalStream {
    let events: AsyncStream<Int32>
    private let sources: [any DispatchSourceSignal]

    init(watching signals: [Int32]) {
        let (stream, continuation) = AsyncStream.makeStream(of: Int32.self)
        events = stream
        sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            return source
        }
    }

    func stop() {
        for source in sources { source.cancel() }
    }
}
