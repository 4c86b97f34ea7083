// SPDX-License-Identifier: Apache-2.0
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Reports names that arrive in a folder (inotify `IN_MOVED_TO` and `IN_CLOSE_WRITE`), and
/// on request names that leave it (`IN_DELETE`, `IN_MOVED_FROM`).
///
/// A writer that follows the protocol renames a finished file into `incoming/`
/// (`IN_MOVED_TO`); one that writes in place is seen when it closes the file
/// (`IN_CLOSE_WRITE`). The watcher only reports names: the daemon checks each one with
/// ``SpoolDirectory/entry(named:in:)``, so duplicate reports are harmless. A kernel queue
/// overflow is reported as ``Event/overflow``, after which the daemon rescans.
///
/// Events are read on a dedicated thread that blocks in `poll(2)` on the inotify descriptor
/// and on a pipe that ``close()`` closes to wake it.
public final class SpoolWatcher: Sendable {
    public enum Event: Sendable, Hashable {
        /// A name was renamed into, or closed after writing in, the folder.
        case arrived(String)
        /// Like ``arrived(_:)``, for a name that is not valid UTF-8: a `String` cannot hold it
        /// unchanged (a lossy decoding names no file), so it is reported without it;
        /// ``SpoolDirectory/rejectUndecodableNames()`` finds such names by their bytes.
        case undecodableName
        /// A name was removed from, or renamed out of, the folder (only when asked for).
        case departed(String)
        /// The kernel dropped events: rescan the folder.
        case overflow
    }

    /// Every event, until ``close()`` or until the folder itself is deleted or moved.
    public let events: AsyncStream<Event>

    private let wakeUp: WakeUpPipe

    /// Starts watching `directory`.
    ///
    /// - Parameter departures: report names that leave the folder too; a departure whose name
    ///   is not valid UTF-8 is not reported.
    /// - Throws: ``SpoolError`` `systemCallFailed` when inotify cannot watch it.
    public init(directory: URL, departures: Bool = false) throws(SpoolError) {
        let inotify = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard inotify >= 0 else { throw Self.systemError("inotify_init1", directory.path) }
        let mask = UInt32(IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)
            | UInt32(IN_DELETE_SELF | IN_MOVE_SELF) | (departures ? UInt32(IN_DELETE | IN_MOVED_FROM) : 0)
        guard inotify_add_watch(inotify, directory.path, mask) >= 0 else {
            let error = Self.systemError("inotify_add_watch", directory.path)
            Glibc.close(inotify)
            throw error
        }
        var pipeEnds: [Int32] = [-1, -1]
        guard pipe(&pipeEnds) == 0 else {
            let error = Self.systemError("pipe", directory.path)
            Glibc.close(inotify)
            throw error
        }
        for end in pipeEnds { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        let (stream, continuation) = AsyncStream.makeStream(of: Event.self)
        let wakeUp = WakeUpPipe(writer: pipeEnds[1])
        // A consumer that stops listening stops the thread too.
        continuation.onTermination = { _ in wakeUp.signal() }
        events = stream
        self.wakeUp = wakeUp
        let wakeReader = pipeEnds[0]
        let thread = Thread {
            Self.readEvents(inotify: inotify, wake: wakeReader, into: continuation)
            Glibc.close(inotify)
            Glibc.close(wakeReader)
            continuation.finish()
        }
        thread.name = "dptune.spool-watcher"
        thread.start()
    }

    deinit {
        close()
    }

    /// Stops watching and finishes ``events``; safe to call more than once.
    public func close() {
        wakeUp.signal()
    }

    private static func readEvents(inotify: Int32, wake: Int32, into continuation: AsyncStream<Event>.Continuation) {
        // Room for many events; each is at most sizeof(inotify_event) + NAME_MAX + 1 bytes.
        let capacity = 64 * (MemoryLayout<inotify_event>.size + Int(NAME_MAX) + 1)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: MemoryLayout<inotify_event>.alignment)
        defer { buffer.deallocate() }
        var descriptors = [
            pollfd(fd: inotify, events: Int16(POLLIN), revents: 0),
            pollfd(fd: wake, events: Int16(POLLIN), revents: 0),
        ]
        while true {
            let ready = poll(&descriptors, nfds_t(descriptors.count), -1)
            if ready < 0 && errno == EINTR { continue }
            // The wake pipe becomes readable (end of file) when close() closes its other end.
            guard ready > 0, descriptors[1].revents == 0 else { return }
            let count = read(inotify, buffer, capacity)
            if count < 0 && (errno == EAGAIN || errno == EINTR) { continue }
            guard count > 0 else { return }
            var offset = 0
            while offset + MemoryLayout<inotify_event>.size <= count {
                let event = buffer.load(fromByteOffset: offset, as: inotify_event.self)
                let nameStart = offset + MemoryLayout<inotify_event>.size
                offset = nameStart + Int(event.len)
                if event.mask & UInt32(IN_Q_OVERFLOW) != 0 {
                    continuation.yield(.overflow)
                } else if event.mask & UInt32(IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED) != 0 {
                    return
                } else if event.len > 0 {
                    let bytes = UnsafeRawBufferPointer(start: buffer + nameStart, count: Int(event.len))
                    let name = String(validating: bytes.prefix { $0 != 0 }, as: UTF8.self)
                    if event.mask & UInt32(IN_DELETE | IN_MOVED_FROM) != 0 {
                        if let name { continuation.yield(.departed(name)) }
                    } else if let name {
                        continuation.yield(.arrived(name))
                    } else {
                        continuation.yield(.undecodableName)
                    }
                }
            }
        }
    }

    private static func systemError(_ call: String, _ path: String) -> SpoolError {
        SpoolError(.systemCallFailed, "\(call) \(path) failed: \(String(cString: strerror(errno)))")
    }
}

/// The write end of the pipe that wakes the watcher thread: closing it makes the read end
/// readable (end of file).
private final class WakeUpPipe: Sendable {
    private let writer: Mutex<Int32>

    init(writer: Int32) {
        self.writer = Mutex(writer)
    }

    deinit {
        signal()
    }

    /// Closes the write end once; later calls do nothing.
    func signal() {
        writer.withLock { descriptor in
            if descriptor >= 0 {
                Glibc.close(descriptor)
                descriptor = -1
            }
        }
    }
}
