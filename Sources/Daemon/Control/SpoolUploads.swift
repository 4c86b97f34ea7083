// SPDX-License-Identifier: Apache-2.0
import Control
import Spool

/// The `submit.*` uploads in progress: which connection each belongs to, how many there may
/// be, and when an abandoned one is removed.
///
/// An upload belongs to the connection that began it (the server let only an admin begin
/// it); a request naming it from any other connection is answered `not_found`, as for an
/// upload that never was. Its staging files are removed when it fails, when its connection
/// closes, or after ``UploadLimits/idleTimeout`` without a chunk; those of a daemon that was
/// killed are scratch files that the next start removes
/// (``SpoolDirectory/completeInterruptedMoves()``), so no upload survives a restart.
actor SpoolUploads {
    private let spool: SpoolDirectory
    private let limits: UploadLimits
    private var uploads: [String: SpoolUpload] = [:]
    /// Drops idle uploads; runs while there are any.
    private var sweeper: Task<Void, Never>?

    init(spool: SpoolDirectory, limits: UploadLimits) {
        self.spool = spool
        self.limits = limits
    }

    /// - Throws: ``ControlError`` `.malformedRequest` for a negative size, `.fileTooLarge`,
    ///   `.tooManyUploads`, `.internal` when the spool cannot stage.
    func begin(_ begin: SubmitBegin, connection: ControlConnectionID) throws(ControlError) -> UploadProgress {
        guard begin.size >= 0, begin.manifestSize ?? 0 >= 0 else {
            throw ControlError(.malformedRequest, "submit.begin needs sizes of 0 or more")
        }
        guard begin.size <= limits.maxDatasetBytes else {
            throw ControlError(
                .fileTooLarge,
                "the dataset is \(begin.size) bytes; submit takes at most \(limits.maxDatasetBytes): write it to the spool directly")
        }
        if let manifestSize = begin.manifestSize, manifestSize > limits.maxManifestBytes {
            throw ControlError(
                .fileTooLarge, "the manifest is \(manifestSize) bytes; intake reads at most \(limits.maxManifestBytes)")
        }
        guard uploads.count < limits.maxUploads else {
            throw ControlError(
                .tooManyUploads, "the daemon already takes \(limits.maxUploads) uploads; try again when one has ended")
        }
        guard uploads.values.count(where: { $0.connection == connection }) < limits.maxUploadsPerConnection else {
            throw ControlError(
                .tooManyUploads, "this connection already has \(limits.maxUploadsPerConnection) uploads in progress")
        }
        let upload = try SpoolUpload(begin, connection: connection, spool: spool)
        uploads[upload.id] = upload
        sweepWhileBusy()
        return upload.progress
    }

    /// - Throws: ``ControlError`` `.notFound`, or what ``SpoolUpload/append(_:)`` throws, after
    ///   which the upload is gone.
    func append(_ chunk: SubmitChunk, connection: ControlConnectionID) throws(ControlError) -> UploadProgress {
        var upload = try take(chunk.upload, connection: connection)
        do {
            try upload.append(chunk)
        } catch {
            upload.discard(from: spool)
            throw error
        }
        uploads[upload.id] = upload
        return upload.progress
    }

    /// Verifies and places the upload, off the actor so that other uploads' chunks are not
    /// held up by the fsync of a large file.
    ///
    /// - Returns: the dataset's final name in `incoming/`.
    /// - Throws: ``ControlError`` `.notFound`, or what ``SpoolUpload/place(in:_:)`` throws,
    ///   after which the upload is gone.
    func end(_ end: SubmitEnd, connection: ControlConnectionID) async throws(ControlError) -> String {
        let upload = try take(end.upload, connection: connection)
        return try await Self.place(upload, end, in: spool)
    }

    private nonisolated static func place(
        _ upload: SpoolUpload, _ end: SubmitEnd, in spool: SpoolDirectory
    ) async throws(ControlError) -> String {
        do {
            return try upload.place(in: spool, end)
        } catch {
            upload.discard(from: spool)
            throw error
        }
    }

    /// Removes the uploads of a closed connection.
    func discard(connection: ControlConnectionID) {
        for (id, upload) in uploads where upload.connection == connection {
            uploads[id] = nil
            upload.discard(from: spool)
        }
    }

    /// Takes the upload out of the table: whoever holds it now puts it back or ends it.
    private func take(_ id: String, connection: ControlConnectionID) throws(ControlError) -> SpoolUpload {
        guard let upload = uploads[id], upload.connection == connection else {
            throw ControlError(
                .notFound,
                "no upload \(id.debugDescription) on this connection; an upload ends with submit.end, at an error, "
                    + "when its connection closes, or after \(limits.idleTimeout) without a chunk")
        }
        uploads[id] = nil
        return upload
    }

    private func sweepWhileBusy() {
        guard sweeper == nil else { return }
        let interval = limits.idleTimeout / 4
        sweeper = Task {
            repeat {
                try? await Task.sleep(for: interval)
            } while removeIdle()
        }
    }

    /// Removes the uploads idle past the timeout; false, ending the sweeper, once none is left.
    private func removeIdle() -> Bool {
        let now = ContinuousClock.now
        for (id, upload) in uploads where now - upload.lastActivity >= limits.idleTimeout {
            uploads[id] = nil
            upload.discard(from: spool)
        }
        if uploads.isEmpty { sweeper = nil }
        return !uploads.isEmpty
    }
}
