// SPDX-License-Identifier: Apache-2.0
import Glibc

/// The service manager's notification channel (`sd_notify(3)`), without libsystemd.
///
/// When `NOTIFY_SOCKET` is unset the daemon is not supervised, and every call quietly
/// succeeds: running in a terminal is a normal way to run `dptuned`.
public struct SystemdNotifier: Sendable {
    /// The socket address from `NOTIFY_SOCKET`, or nil when not run by a service manager.
    public let socketAddress: String?
    /// Half the watchdog interval, if the manager asked this process to ping it.
    public let watchdogPingInterval: Duration?

    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from `environment`.
    ///
    /// The watchdog applies only if `WATCHDOG_PID` is unset or names this process: a
    /// child that inherited the environment must not keep a hung parent alive.
    public init(environment: [String: String], pid: Int32 = getpid()) {
        let address = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        socketAddress = address
        if address != nil,
           let usec = environment["WATCHDOG_USEC"].flatMap(UInt64.init), usec > 0,
           environment["WATCHDOG_PID"].map({ Int32($0) == pid }) ?? true {
            watchdogPingInterval = .microseconds(Int64(usec / 2))
        } else {
            watchdogPingInterval = nil
        }
    }

    /// Sends newline-separated `KEY=VALUE` assignments, e.g. `["READY=1", "STATUS=idle"]`.
    ///
    /// - Returns: false only when a manager is listening and the message could not be sent.
    @discardableResult
    public func notify(_ assignments: [String]) -> Bool {
        guard let socketAddress else { return true }
        return UnixDatagram.send(Array(assignments.joined(separator: "\n").utf8), to: socketAddress)
    }

    @discardableResult public func ready(status: String) -> Bool { notify(["READY=1", "STATUS=\(status)"]) }
    @discardableResult public func status(_ text: String) -> Bool { notify(["STATUS=\(text)"]) }
    @discardableResult public func watchdog() -> Bool { notify(["WATCHDOG=1"]) }
    @discardableResult public func stopping() -> Bool { notify(["STOPPING=1"]) }

    /// Tells the manager a reload started; `MONOTONIC_USEC` lets it order the later `READY=1`.
    @discardableResult
    public func reloading() -> Bool {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let usec = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
        return notify(["RELOADING=1", "MONOTONIC_USEC=\(usec)"])
    }
}
