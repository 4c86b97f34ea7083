// SPDX-License-Identifier: Apache-2.0
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Tells whether the foreground run that made a ledger admission is still alive.
///
/// `dptuned train --ledger` settles its own charge, so the daemon leaves `local-…`
/// admissions alone; but a run killed with SIGKILL (or by the OOM killer) settles nothing,
/// and its admission would stay admitted for ever. Before it asks the ledger, the run
/// creates `LEDGER.runs/JOB.lock` beside the ledger and holds it with `flock(2)` until its
/// charge is settled. The kernel drops the hold with the process, whatever killed it, and
/// across PID namespaces, where a recorded pid would lie. So an admission whose lock file
/// is there and free is one whose run died unsettled; one whose file is gone was made by a
/// run from before these files, or settled and removed it a moment ago.
final class ForegroundRunLock: Sendable {
    /// What a start-up can tell about a foreground admission's run.
    enum Holder: Equatable {
        /// The run holds its lock: it is training, or settling.
        case running
        /// The lock file is there and nobody holds it: the run died before settling.
        case ended
        /// No lock file: a run from before these files, or one that has just settled.
        case unknown
    }

    private let file: URL
    private let descriptor: Mutex<Int32?>

    /// Creates and holds the lock of `jobID` for the ledger at `ledger`.
    ///
    /// - Throws: `CocoaError` when the folder cannot be created; `POSIXError` when the file
    ///   cannot be created (one already there means the id was used before) or held.
    init(jobID: String, ledger: URL) throws {
        let folder = Self.folder(of: ledger)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        file = Self.lockFile(jobID, in: folder)
        let opened = open(file.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard opened >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        guard flock(opened, LOCK_EX | LOCK_NB) == 0 else {
            let code = POSIXErrorCode(rawValue: errno) ?? .EIO
            close(opened)
            unlink(file.path)
            throw POSIXError(code)
        }
        descriptor = Mutex(opened)
    }

    /// Removes the file, then lets the lock go: in that order, a start-up that looks in
    /// between finds the file held or gone, never free.
    func release() {
        descriptor.withLock { held in
            guard let open = held else { return }
            unlink(file.path)
            close(open)
            held = nil
        }
    }

    /// Dropping the lock without `release()` is a run that ended unsettled: the file stays
    /// for the daemon to find free.
    deinit {
        descriptor.withLock { held in
            if let open = held { close(open) }
        }
    }

    /// Whether the run that made admission `jobID` in the ledger at `ledger` is alive.
    static func holder(of jobID: String, ledger: URL) -> Holder {
        holder(at: lockFile(jobID, in: folder(of: ledger)))
    }

    private static func holder(at file: URL) -> Holder {
        let probe = open(file.path, O_RDONLY | O_CLOEXEC)
        guard probe >= 0 else { return .unknown }
        defer { close(probe) }
        if flock(probe, LOCK_EX | LOCK_NB) == 0 { return .ended }
        return errno == EWOULDBLOCK ? .running : .unknown
    }

    /// Removes the lock file an ended run left, once its admission is settled.
    static func removeEnded(_ jobID: String, ledger: URL) {
        unlink(lockFile(jobID, in: folder(of: ledger)).path)
    }

    /// Removes the free lock files of runs that are not `admitted`: runs killed after
    /// settling, before removing their file, or before their admission. A held file is a
    /// live run, perhaps about to be admitted, and stays.
    ///
    /// - Returns: the job ids whose files were removed.
    static func removeEndedUnadmitted(ledger: URL, admitted: Set<String>) -> [String] {
        let folder = folder(of: ledger)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.sorted().compactMap { name in
            guard name.hasSuffix(lockSuffix) else { return nil }
            let jobID = String(name.dropLast(lockSuffix.count))
            let file = lockFile(jobID, in: folder)
            guard !admitted.contains(jobID), holder(at: file) == .ended else { return nil }
            unlink(file.path)
            return jobID
        }
    }

    private static let lockSuffix = ".lock"

    /// `JOB.lock` in the runs folder.
    private static func lockFile(_ jobID: String, in folder: URL) -> URL {
        folder.appendingPathComponent(jobID + lockSuffix)
    }

    /// `LEDGER.runs` beside the ledger's real path, so that a run and the daemon naming the
    /// ledger through different links or relative paths find the same folder.
    static func folder(of ledger: URL) -> URL {
        var resolved = ledger.path
        if let real = realpath(ledger.path, nil) {
            resolved = String(cString: real)
            free(real)
        }
        return URL(fileURLWithPath: resolved + ".runs", isDirectory: true)
    }
}
