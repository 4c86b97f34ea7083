// SPDX-License-Identifier: Apache-2.0
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// One daemon at a time on a state directory, a spool and a ledger.
///
/// Everything the daemon does at start-up assumes it is alone: it queues again the jobs
/// recorded as running, fails the ledger's admissions it holds no record of, completes the
/// spool moves it finds half done and removes scratch files. A second `dptuned` on the same
/// folders (started by hand beside the service, or from a config that shares only the
/// spool or only the ledger) would do all that to a daemon that is alive, and then take
/// the same datasets from `incoming/`. So the daemon holds each folder with `flock(2)`
/// before it opens the ledger, until it returns. The kernel drops a hold with its process,
/// so a daemon killed with SIGKILL leaves no stale lock behind; the descriptors are
/// close-on-exec, so a worker outliving its daemon does not keep the next one out.
final class InstanceLock: Sendable {
    /// A folder to hold, and what it is to this daemon, for the refusal's message.
    struct Folder {
        var url: URL
        var role: String
    }

    private let descriptors: [Int32]

    /// Creates each missing folder and holds them all; a folder named twice (the ledger in
    /// the state directory) is held once, since a second `flock` on it would conflict with
    /// the first.
    ///
    /// - Parameter patience: how long a held folder is asked for again before the refusal:
    ///   a daemon killed a moment ago keeps its holds until its files are closed, and a
    ///   script that restarts it at once would otherwise be refused.
    /// - Throws: ``DaemonStartError`` `alreadyRunning` naming the holder's pid when it can be
    ///   found; `stateUnusable` when a folder cannot be created or opened.
    init(_ folders: [Folder], patience: Duration = .seconds(2)) throws(DaemonStartError) {
        var held: [Int32] = []
        var identities: Set<FileIdentity> = []
        do throws(DaemonStartError) {
            for folder in folders {
                let path = folder.url.path
                do {
                    try FileManager.default.createDirectory(at: folder.url, withIntermediateDirectories: true)
                } catch {
                    throw DaemonStartError(.stateUnusable, "cannot create the \(folder.role) \(path): \(error)")
                }
                let descriptor = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                guard descriptor >= 0 else {
                    throw DaemonStartError(.stateUnusable, "cannot open the \(folder.role) \(path): \(String(cString: strerror(errno)))")
                }
                var status = stat()
                guard fstat(descriptor, &status) == 0,
                      identities.insert(FileIdentity(device: UInt64(status.st_dev), inode: UInt64(status.st_ino))).inserted
                else {
                    close(descriptor)
                    continue
                }
                held.append(descriptor)
                guard Self.hold(descriptor, patience: patience) else {
                    let holder = errno == EWOULDBLOCK
                        ? Self.holder(device: UInt64(status.st_dev), inode: UInt64(status.st_ino)) : nil
                    throw DaemonStartError(
                        .alreadyRunning,
                        "the \(folder.role) \(path) is in use by \(holder ?? "another process"); "
                            + "stop it first, or give this daemon a state directory, spool and ledger of its own")
                }
            }
        } catch {
            for descriptor in held { close(descriptor) }
            throw error
        }
        descriptors = held
    }

    deinit {
        for descriptor in descriptors { close(descriptor) }
    }

    /// Whether `flock` holds the folder within `patience`; false with `errno` from the last try.
    private static func hold(_ descriptor: Int32, patience: Duration) -> Bool {
        let deadline = ContinuousClock.now + patience
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            guard errno == EWOULDBLOCK || errno == EINTR, ContinuousClock.now < deadline else { return false }
            usleep(20_000)
        }
        return true
    }

    /// The process holding a `flock` on the file, from `/proc/locks`: "pid 812 (dptuned)".
    private static func holder(device: UInt64, inode: UInt64) -> String? {
        guard let table = try? String(contentsOfFile: "/proc/locks", encoding: .utf8) else { return nil }
        // "1: FLOCK  ADVISORY  WRITE 812 08:01:393220 0 EOF": the device as major:minor in hex.
        let major = ((device >> 8) & 0xfff) | ((device >> 32) & ~0xfff)
        let minor = (device & 0xff) | ((device >> 12) & ~0xff)
        let file = String(format: "%02llx:%02llx:%llu", major, minor, inode)
        for line in table.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count > 5, fields[1] == "FLOCK", fields[5] == file, let pid = Int32(fields[4]) else { continue }
            let command = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
            return "pid \(pid)" + (command.map { " (\($0))" } ?? "")
        }
        return nil
    }
}

private struct FileIdentity: Hashable {
    var device: UInt64
    var inode: UInt64
}
