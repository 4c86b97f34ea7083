// SPDX-License-Identifier: Apache-2.0
import Daemon
import Glibc
import Testing
import TestSupport

@Suite struct SystemdNotifierTests {
    @Test func sendsAssignmentsToNotifySocket() throws {
        let sink = try DatagramSink()
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": sink.path])
        #expect(notifier.ready(status: "queue 0"))
        #expect(sink.receive().map { String(decoding: $0, as: UTF8.self) } == "READY=1\nSTATUS=queue 0")
        #expect(notifier.stopping())
        #expect(sink.receive().map { String(decoding: $0, as: UTF8.self) } == "STOPPING=1")
        #expect(notifier.reloading())
        let reload = try #require(sink.receive().map { String(decoding: $0, as: UTF8.self) })
        #expect(reload.hasPrefix("RELOADING=1\nMONOTONIC_USEC="))
    }

    @Test func unsupervisedIsSilentSuccess() {
        let notifier = SystemdNotifier(environment: [:])
        #expect(notifier.socketAddress == nil)
        #expect(notifier.ready(status: "x"))
        #expect(notifier.watchdogPingInterval == nil)
    }

    @Test func unreachableSocketReportsFailure() {
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": "/nonexistent/notify"])
        #expect(!notifier.watchdog())
    }

    @Test func watchdogIntervalIsHalfAndOnlyForThisProcess() {
        let env = ["NOTIFY_SOCKET": "/x", "WATCHDOG_USEC": "4000000"]
        #expect(SystemdNotifier(environment: env).watchdogPingInterval == .seconds(2))
        var other = env
        other["WATCHDOG_PID"] = String(getpid() + 1)
        #expect(SystemdNotifier(environment: other).watchdogPingInterval == nil)
        var mine = env
        mine["WATCHDOG_PID"] = String(getpid())
        #expect(SystemdNotifier(environment: mine).watchdogPingInterval == .seconds(2))
    }

    @Test func socketActivationHonoursListenPID() {
        let pid = getpid()
        #expect(SocketActivation.listenDescriptors(environment: ["LISTEN_PID": "\(pid)", "LISTEN_FDS": "2"]) == [3, 4])
        #expect(SocketActivation.listenDescriptors(environment: ["LISTEN_PID": "\(pid + 1)", "LISTEN_FDS": "1"]).isEmpty)
        #expect(SocketActivation.listenDescriptors(environment: [:]).isEmpty)
    }
}
