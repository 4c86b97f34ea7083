// SPDX-License-Identifier: Apache-2.0
import Control
import Foundation
import Records
import Spool
#if canImport(Glibc)
import Glibc
#endif

/// `submit`: copies a caller's dataset (and manifest) into the spool as a writer would,
/// staging in `tmp/` and renaming into `incoming/`, manifest first
/// (``SpoolDirectory/submit(dataset:manifest:stem:attempts:)``).
///
/// The daemon reads with its own rights, so it reads only what the caller could read
/// itself: a regular file (no link, device or FIFO) whose mode bits grant the caller read
/// access.
struct SpoolSubmission: Sendable {
    let spool: SpoolDirectory
    /// The largest file `submit` copies; bigger datasets go through the spool directly.
    static let maxBytes = 1 << 30

    /// - Returns: the dataset's final `NAME` (it is `incoming/NAME.jsonl`): the file's own
    ///   stem, or that stem with a `-N` suffix when a file in `incoming/` had the name, even
    ///   one that a data owner dropped while the copy was being staged.
    /// - Throws: ``ControlError`` `.permissionDenied` or `.malformedRequest` naming the path,
    ///   `.internal` when the spool cannot take the copy.
    func submit(datasetPath: String, manifestPath: String?, peer: PeerCredentials) throws -> String {
        let dataset = try read(datasetPath, peer: peer)
        let manifest = try manifestPath.map { try read($0, peer: peer) }
        let base = URL(fileURLWithPath: datasetPath).lastPathComponent
        let rawStem = base.hasSuffix(SpoolName.datasetSuffix) ? String(base.dropLast(SpoolName.datasetSuffix.count)) : base
        do {
            return try spool.submit(dataset: dataset, manifest: manifest, stem: Self.safeStem(rawStem))
        } catch {
            throw ControlError(.internal, "cannot place the submission in incoming/: \(error)")
        }
    }

    private func read(_ path: String, peer: PeerCredentials) throws -> Data {
        guard path.hasPrefix("/") else {
            throw ControlError(.malformedRequest, "submit needs an absolute path; found \(path.debugDescription), refusing")
        }
        let descriptor = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw ControlError(.permissionDenied, "cannot open \(path): \(String(cString: strerror(errno))), refusing")
        }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else {
            throw ControlError(.permissionDenied, "\(path) is not a regular file, refusing")
        }
        guard Self.mayRead(status, peer: peer) else {
            throw ControlError(.permissionDenied, "\(path) is not readable by uid \(peer.uid), refusing")
        }
        guard Int(status.st_size) <= Self.maxBytes else {
            throw ControlError(.malformedRequest, "\(path) is larger than \(Self.maxBytes) bytes; write it to the spool directly")
        }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: false)
        return try handle.readToEnd() ?? Data()
    }

    /// Whether the file's owner, group and mode bits let `peer` read it.
    static func mayRead(_ status: stat, peer: PeerCredentials) -> Bool {
        if peer.uid == 0 { return true }
        if status.st_uid == peer.uid { return status.st_mode & S_IRUSR != 0 }
        if status.st_gid == peer.gid || peer.groups.contains(status.st_gid) { return status.st_mode & S_IRGRP != 0 }
        return status.st_mode & S_IROTH != 0
    }

    /// The stem with anything but letters, digits, `-`, `_` and `.` replaced, never starting
    /// with a dot nor holding `..`, and short enough that its manifest's name with a
    /// collision suffix stays a valid spool name: the client is told the name before intake
    /// reads it, so intake must never refuse it as `unsafe_path`.
    static func safeStem(_ stem: String) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
        let room = SpoolName.maxLength - ".manifest.json".count - "-999999".count
        var safe = String(stem.map { allowed.contains($0) ? $0 : "_" })
        while safe.hasPrefix(".") { safe.removeFirst() }
        while safe.contains("..") { safe = safe.replacingOccurrences(of: "..", with: "_") }
        safe = String(safe.prefix(room))
        return safe.isEmpty ? "submitted" : safe
    }
}
