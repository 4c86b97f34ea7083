// SPDX-License-Identifier: Apache-2.0
@testable import Daemon
import Foundation
import Glibc
import Testing
import TestSupport

/// The hold on the daemon's folders. `flock` conflicts between two opens of one folder even
/// in one process, so a second hold here stands for a second daemon.
@Suite struct InstanceLockTests {
    private static func folders(in directory: TemporaryDirectory, spool: String = "spool") -> [InstanceLock.Folder] {
        [
            .init(url: directory.url.appendingPathComponent("state"), role: "state directory"),
            .init(url: directory.url.appendingPathComponent(spool), role: "spool"),
            .init(url: directory.url.appendingPathComponent("state"), role: "ledger's folder"),
        ]
    }

    @Test func aSecondHoldIsRefusedNamingTheFolderAndTheHolder() throws {
        let directory = try TemporaryDirectory()
        let first = try InstanceLock(Self.folders(in: directory))
        let error = #expect(throws: DaemonStartError.self) { try InstanceLock(Self.folders(in: directory), patience: .zero) }
        #expect(error?.code == .alreadyRunning)
        let state = directory.url.appendingPathComponent("state").path
        #expect(error?.message.contains("the state directory \(state) is in use by pid \(getpid()) (") == true,
                "\(error?.message ?? "")")
        withExtendedLifetime(first) {}
    }

    /// A daemon that shares only the spool with another is refused too, and its own state
    /// directory is not left held.
    @Test func sharingOnlyTheSpoolIsRefusedAndLeavesNothingHeld() throws {
        let directory = try TemporaryDirectory()
        let first = try InstanceLock(Self.folders(in: directory))
        let other = try TemporaryDirectory()
        let shared: [InstanceLock.Folder] = [
            .init(url: other.url.appendingPathComponent("state"), role: "state directory"),
            .init(url: directory.url.appendingPathComponent("spool"), role: "spool"),
        ]
        let error = #expect(throws: DaemonStartError.self) { try InstanceLock(shared, patience: .zero) }
        #expect(error?.message.hasPrefix("the spool \(directory.url.appendingPathComponent("spool").path) is in use") == true,
                "\(error?.message ?? "")")
        _ = try InstanceLock([shared[0]])
        withExtendedLifetime(first) {}
    }

    /// A hold let go within the patience is taken: a daemon killed a moment ago is still
    /// closing its files when a script starts the next one.
    @Test func aHoldReleasedWithinThePatienceIsTaken() async throws {
        let directory = try TemporaryDirectory()
        let (held, heldNow) = AsyncStream.makeStream(of: Void.self)
        let first = Task {
            let lock = try InstanceLock(Self.folders(in: directory))
            heldNow.yield()
            try await Task.sleep(for: .milliseconds(300))
            withExtendedLifetime(lock) {}
        }
        for await _ in held { break }
        let started = ContinuousClock.now
        let second = try await onOwnThread { try InstanceLock(Self.folders(in: directory), patience: .seconds(30)) }
        #expect(ContinuousClock.now - started > .milliseconds(100))
        try await first.value
        withExtendedLifetime(second) {}
    }

    /// The ledger in the state directory is one folder, held once: a second `flock` on it
    /// from the same daemon would refuse that daemon.
    @Test func aFolderNamedTwiceIsHeldOnceAndReleasedWithTheLock() throws {
        let directory = try TemporaryDirectory()
        do {
            let held = try InstanceLock(Self.folders(in: directory))
            withExtendedLifetime(held) {}
        }
        _ = try InstanceLock(Self.folders(in: directory, spool: "other-spool"))
        #expect(FileManager.default.fileExists(atPath: directory.url.appendingPathComponent("other-spool").path))
    }
}
