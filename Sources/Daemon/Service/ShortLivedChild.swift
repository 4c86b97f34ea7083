// SPDX-License-Identifier: Apache-2.0
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One run of a child process that answers with a line on its standard output: the plugin
/// probe and the job preflight, which keep plugin code out of the daemon.
///
/// A child still running at the deadline gets SIGKILL, not SIGTERM: plugin code may catch
/// or ignore SIGTERM, and the child keeps nothing worth a clean exit. The SIGKILL goes to
/// the child's process group (`Process` starts each child in a group of its own), so a
/// process the plugin forked goes too.
///
/// The deadline bounds the whole run, reading included. A grandchild that keeps the output
/// pipe open must not hold the caller (the plugin registry, intake) for as long as it lives,
/// and `Process` itself notices a child's end only once every process holding the child's
/// descriptors is gone: so the child's exit is read here with `waitid(WNOWAIT)`, which
/// leaves the reaping to `Process`. Only the tail of the output is kept, since a plugin
/// printing without end must not fill the daemon's memory.
///
/// A caller that no longer wants the answer (the daemon is stopping) ends the run early
/// the same way: systemd's stop timeout is far shorter than a preflight's deadline.
struct ShortLivedChild {
    enum End: Equatable {
        case exited(Int32)
        case killedBySignal(Int32)
        case timedOut
    }

    /// Thrown when the caller called the run off: the child was killed, and its end says
    /// nothing about the plugin.
    struct CalledOff: Error {}

    /// Why a run is cut short.
    private enum Cut {
        case deadline, calledOff
    }

    /// The last non-empty line the child printed (among its last `maxOutputBytes`); a
    /// plugin may print before the answer.
    let lastLine: Data
    let end: End

    /// Runs the child to its end, blocking the calling thread for at most about `timeout`.
    ///
    /// - Parameters:
    ///   - maxOutputBytes: how much of the end of the output is kept; a last line longer
    ///     than this is cut at its start, which no answer survives.
    ///   - callOff: asked at least every 100 ms while the child runs; once it answers true,
    ///     the child's group is killed.
    /// - Throws: ``CalledOff`` when `callOff` ended the run; what `Process.run()` throws
    ///   when the child cannot start.
    init(executable: URL, arguments: [String], timeout: Duration, maxOutputBytes: Int = 1 << 20,
         callOff: () -> Bool = { false }) throws {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let pid = process.processIdentifier
        let reader = output.fileHandleForReading
        defer { try? reader.close() }
        let deadline = ContinuousClock.now + timeout
        func cut() -> Cut? {
            if callOff() { return .calledOff }
            return ContinuousClock.now >= deadline ? .deadline : nil
        }
        let drained = Self.readTail(
            of: reader.fileDescriptor, keeping: maxOutputBytes, until: deadline, cut: cut,
            childExited: { Self.state(of: pid, blocking: false) != .running })
        var cutShort = drained.cut
        // A child may close its output and carry on: the deadline holds for its exit too.
        while cutShort == nil, Self.state(of: pid, blocking: false) == .running {
            cutShort = cut()
            if cutShort == nil { usleep(5_000) }
        }
        if cutShort != nil || !drained.reachedEnd {
            // Cut short, or the child is gone but something it started holds the pipe: end
            // the group. An unreaped child keeps its id, and a reaped one leaves its group
            // id in use only while a member lives, so neither names anyone else.
            kill(-pid, SIGKILL)
            if cutShort != nil, Self.state(of: pid, blocking: false) != .reaped { kill(pid, SIGKILL) }
        }
        if cutShort == .calledOff { throw CalledOff() }
        lastLine = drained.tail.split(separator: UInt8(ascii: "\n")).last.map { Data($0) } ?? Data()
        if cutShort == .deadline {
            end = .timedOut
        } else if case .ended(let exit) = Self.state(of: pid, blocking: true) {
            end = exit
        } else {
            // `Process` reaped the child already, so it knows how it ended.
            process.waitUntilExit()
            end = process.terminationReason == .uncaughtSignal
                ? .killedBySignal(process.terminationStatus) : .exited(process.terminationStatus)
        }
    }

    private enum ChildState: Equatable {
        case running
        case ended(End)
        /// `Process` has collected it: its id may already name another process.
        case reaped
    }

    /// Where child `pid` is, read without reaping it (`Process` does that); with `blocking`,
    /// waits until it is no longer running.
    private static func state(of pid: pid_t, blocking: Bool) -> ChildState {
        var info = siginfo_t()
        let options = WEXITED | WNOWAIT | (blocking ? 0 : WNOHANG)
        while waitid(P_PID, id_t(pid), &info, options) != 0 {
            if errno != EINTR { return .reaped }
        }
        guard info._sifields._sigchld.si_pid == pid else { return .running }
        let status = info._sifields._sigchld.si_status
        return .ended(info.si_code == CLD_EXITED ? .exited(status) : .killedBySignal(status))
    }

    /// Reads `descriptor` until end of file, until `cut` answers why to stop (asked before
    /// each wait of at most 100 ms, which ends by `deadline`), or shortly after `childExited`
    /// turns true (then only what is already in the pipe), keeping the last `limit` bytes.
    private static func readTail(
        of descriptor: CInt, keeping limit: Int, until deadline: ContinuousClock.Instant,
        cut: () -> Cut?, childExited: () -> Bool
    ) -> (tail: Data, reachedEnd: Bool, cut: Cut?) {
        var tail = Data()
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var childGone = false
        while true {
            if let reason = cut() { return (tail.suffix(limit), false, reason) }
            let remaining = deadline - .now
            // Wake now and then to notice a child that exited while the pipe stays open.
            let slice = childGone ? 0 : Int32(min(100, max(1, remaining / .milliseconds(1))))
            var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, slice)
            if ready < 0 {
                if errno == EINTR { continue }
                return (tail.suffix(limit), false, nil)
            }
            if ready == 0 {
                if childGone { return (tail.suffix(limit), false, nil) }
                childGone = childExited()
                continue
            }
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                return (tail.suffix(limit), false, nil)
            }
            if count == 0 { return (tail.suffix(limit), true, nil) }
            tail.append(contentsOf: chunk[0..<count])
            // Trim in batches: copying on every read would cost quadratic time.
            if tail.count > 2 * limit { tail = Data(tail.suffix(limit)) }
        }
    }
}
