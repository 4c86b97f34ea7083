// SPDX-License-Identifier: Apache-2.0
import Control
import Foundation
import Records
import Spool

/// One `submit.begin` … `submit.end` upload: each file staged in the spool's `tmp/` as its
/// chunks arrive, hashed as written, and placed in `incoming/` as any submission
/// (``SpoolDirectory/submit(staged:manifest:stem:attempts:)``).
///
/// Chunks go to disk at once; the daemon holds no more of a file than one chunk. Any
/// failure leaves the caller to ``discard(from:)`` it.
struct SpoolUpload: Sendable {
    /// One file of the upload and how much of it arrived.
    private struct Part: Sendable {
        let staged: StagedFile
        let size: Int
        var received = 0
        var hasher = SHA256()
    }

    let id: String
    let connection: ControlConnectionID
    /// When the upload last moved, for the idle timeout.
    private(set) var lastActivity: ContinuousClock.Instant
    private let stem: String
    private var dataset: Part
    private var manifest: Part?

    /// Creates the staging files.
    ///
    /// - Throws: ``ControlError`` `.insufficientStorage` when the spool has no room for
    ///   them, `.internal` when it cannot create them otherwise.
    init(_ begin: SubmitBegin, connection: ControlConnectionID, spool: SpoolDirectory) throws(ControlError) {
        id = UUID().uuidString.lowercased()
        self.connection = connection
        lastActivity = .now
        let rawStem = begin.name.hasSuffix(SpoolName.datasetSuffix) ? String(begin.name.dropLast(SpoolName.datasetSuffix.count)) : begin.name
        stem = Self.safeStem(rawStem)
        do {
            dataset = Part(staged: try spool.stage(), size: begin.size)
            if let manifestSize = begin.manifestSize {
                do {
                    manifest = Part(staged: try spool.stage(), size: manifestSize)
                } catch {
                    spool.discard(dataset.staged)
                    throw error
                }
            }
        } catch {
            throw Self.failure("cannot stage the upload in the spool's tmp/", error)
        }
    }

    /// The spool's failure as the client is told it: a full disk is the operator's to fix
    /// and worth another try, not a failure of the daemon.
    private static func failure(_ what: String, _ error: any Error) -> ControlError {
        guard let spoolError = error as? SpoolError, spoolError.isOutOfSpace else {
            return ControlError(.internal, "\(what): \(error)")
        }
        return ControlError(.insufficientStorage,
                            "\(what): the spool has no room (\(spoolError.message)); nothing was kept, so submit again once it has")
    }

    var progress: UploadProgress {
        UploadProgress(upload: id, datasetBytes: dataset.received, manifestBytes: manifest?.received ?? 0)
    }

    /// Writes the chunk's bytes after what its file already holds.
    ///
    /// - Throws: ``ControlError`` `.invalidEncoding`, `.offsetMismatch` (not where the file
    ///   ends), `.sizeMismatch` (past the announced size, or a manifest that was not
    ///   announced), `.insufficientStorage` when the spool has no room, `.internal` when it
    ///   cannot write otherwise.
    mutating func append(_ chunk: SubmitChunk) throws(ControlError) {
        let bytes = try chunk.bytes()
        lastActivity = .now
        switch chunk.file {
        case .dataset:
            try Self.append(bytes, at: chunk.offset, to: &dataset, file: chunk.file)
        case .manifest:
            guard var part = manifest else {
                throw ControlError(.sizeMismatch, "upload \(id) announced no manifest, yet a manifest chunk arrived")
            }
            try Self.append(bytes, at: chunk.offset, to: &part, file: chunk.file)
            manifest = part
        }
    }

    private static func append(_ bytes: Data, at offset: Int, to part: inout Part, file: UploadFile) throws(ControlError) {
        guard offset == part.received else {
            throw ControlError(
                .offsetMismatch, "a \(file.rawValue) chunk at offset \(offset) arrived; the next one starts at \(part.received)")
        }
        guard bytes.count <= part.size - part.received else {
            throw ControlError(
                .sizeMismatch,
                "the \(file.rawValue) chunk at offset \(offset) of \(bytes.count) bytes goes past the \(part.size) bytes announced")
        }
        do {
            try part.staged.append(bytes)
        } catch {
            throw Self.failure("cannot write the upload to the spool's tmp/", error)
        }
        part.hasher.update(bytes)
        part.received += bytes.count
    }

    /// Checks that every announced byte arrived and that the hashes are the client's, then
    /// places the files.
    ///
    /// - Returns: the dataset's final `NAME` (it is `incoming/NAME.jsonl`): the file's own
    ///   stem, or that stem with a `-N` suffix when a file in `incoming/` had the name, even
    ///   one that a data owner dropped while the copy was being staged.
    /// - Throws: ``ControlError`` `.sizeMismatch`, `.checksumMismatch`, `.insufficientStorage`
    ///   when the spool has no room, or `.internal` when it cannot take the files otherwise.
    func place(in spool: SpoolDirectory, _ end: SubmitEnd) throws(ControlError) -> String {
        try Self.verify(dataset, file: .dataset, sha256: end.sha256)
        switch (manifest, end.manifestSHA256) {
        case (let part?, let sha256):
            try Self.verify(part, file: .manifest, sha256: sha256)
        case (nil, _?):
            throw ControlError(.checksumMismatch, "submit.end names a manifest hash, but upload \(id) announced no manifest")
        case (nil, nil):
            break
        }
        do {
            // At most maxManifestBytes (checked at begin): small enough to hold, and the
            // spool needs the bytes should it have to stage the manifest anew.
            var manifestBytes: Data?
            if let manifest {
                guard let bytes = try manifest.staged.contents(maxBytes: manifest.size) else {
                    throw SpoolError(.systemCallFailed, "the staged manifest tmp/\(manifest.staged.name) grew")
                }
                manifestBytes = bytes
            }
            let name = try spool.submit(staged: dataset.staged, manifest: manifestBytes, stem: stem)
            if let manifest { spool.discard(manifest.staged) }
            return name
        } catch {
            throw Self.failure("cannot place the submission in incoming/", error)
        }
    }

    private static func verify(_ part: Part, file: UploadFile, sha256: String?) throws(ControlError) {
        guard part.received == part.size else {
            throw ControlError(.sizeMismatch, "\(part.received) of the \(part.size) bytes of the \(file.rawValue) arrived")
        }
        let received = part.hasher.hexDigest()
        guard sha256?.lowercased() == received else {
            throw ControlError(
                .checksumMismatch,
                "the \(file.rawValue) that arrived has SHA-256 \(received); the client read \(sha256 ?? "no hash")")
        }
    }

    /// Removes the staging files (those not placed).
    func discard(from spool: SpoolDirectory) {
        spool.discard(dataset.staged)
        if let manifest { spool.discard(manifest.staged) }
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
