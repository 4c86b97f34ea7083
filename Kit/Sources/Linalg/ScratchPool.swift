// SPDX-License-Identifier: Apache-2.0
import Synchronization

/// Float workspaces lent to callers that may run at the same time.
///
/// A hook that several backbone replicas share is called from two threads at once, so it
/// cannot keep one scratch buffer of its own; it borrows one here for the call. A pool
/// holds as many buffers as calls have overlapped, each grown to the largest request it
/// served, so a training loop's steady state allocates nothing.
public final class ScratchPool: Sendable {
    /// A buffer's address and capacity in floats; only the borrower touches the memory.
    private struct Buffer {
        let address: UInt
        let capacity: Int
    }

    private let idle = Mutex<[Buffer]>([])

    public init() {}

    deinit {
        for buffer in idle.withLock({ $0 }) { Self.pointer(buffer).deallocate() }
    }

    /// Runs `body` with at least `count` floats that no concurrent caller sees; their
    /// contents on entry are unspecified.
    public func withScratch<Result>(count: Int, _ body: (UnsafeMutablePointer<Float>) throws -> Result) rethrows -> Result {
        var buffer = idle.withLock { $0.popLast() } ?? Buffer(address: 0, capacity: 0)
        if buffer.capacity < count {
            if buffer.address != 0 { Self.pointer(buffer).deallocate() }
            let memory = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
            buffer = Buffer(address: UInt(bitPattern: memory), capacity: max(count, 1))
        }
        defer { idle.withLock { $0.append(buffer) } }
        return try body(Self.pointer(buffer))
    }

    private static func pointer(_ buffer: Buffer) -> UnsafeMutablePointer<Float> {
        guard let pointer = UnsafeMutablePointer<Float>(bitPattern: buffer.address) else {
            preconditionFailure("a scratch buffer without memory")
        }
        return pointer
    }
}
