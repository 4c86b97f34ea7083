// SPDX-License-Identifier: Apache-2.0
import Glibc
import Synchronization

/// One value per thread, kept between calls.
///
/// A training step runs its pieces on several threads at once, one per backbone replica, and
/// calls the same hooks and parameters from each. What one piece keeps for a later call on
/// its own thread (the row of its first sample, the clip scales its backward needs) must not
/// be seen by the other.
public final class PerThreadValue<Value: Sendable>: Sendable {
    private let values = Mutex<[UInt: Value]>([:])

    public init() {}

    /// The calling thread's value; nil when that thread has set none since ``removeAll()``.
    public var value: Value? {
        get { values.withLock { $0[Self.currentThread] } }
        set { values.withLock { $0[Self.currentThread] = newValue } }
    }

    /// Forgets every thread's value.
    public func removeAll() {
        values.withLock { $0.removeAll() }
    }

    private static var currentThread: UInt { UInt(pthread_self()) }
}
