// SPDX-License-Identifier: Apache-2.0
import Foundation

extension ControlClient {
    /// The most bytes one `submit.chunk` carries: in base64 with its envelope about a third
    /// of the daemon's 1 MiB request limit.
    public static let uploadChunkBytes = 256 << 10

    /// Queues a dataset (and manifest) by sending their bytes: `submit.begin`, the chunks of
    /// the manifest then of the dataset, and `submit.end` with the SHA-256 of each as read.
    ///
    /// The files are read here, with the caller's rights; the daemon stages the bytes in its
    /// spool and places them as any submission. Should anything fail midway, the daemon
    /// removes what it staged when this connection closes.
    ///
    /// - Throws: ``ControlError`` `.unreadableFile` when a file changes while it is read,
    ///   or the daemon's refusal (e.g. `.permissionDenied`, `.fileTooLarge`, `.tooManyUploads`).
    public func submit(
        dataset: UploadSource, manifest: UploadSource?, chunkBytes: Int = ControlClient.uploadChunkBytes
    ) throws(ControlError) -> SubmitReceipt {
        guard case .upload(let begun) = try send(.submitBegin(SubmitBegin(name: dataset.name, size: dataset.size, manifestSize: manifest?.size)))
        else { throw ControlError(.protocolViolation, "submit.begin was not answered with an upload") }
        let upload = begun.upload
        func sendChunks(of file: UploadFile, from source: UploadSource) throws(ControlError) -> String {
            try source.read(inChunksOf: chunkBytes) { offset, bytes throws(ControlError) in
                try send(.submitChunk(SubmitChunk(upload: upload, file: file, offset: offset, bytes: bytes)))
            }
        }
        let manifestSHA256 = try manifest.map { source throws(ControlError) in try sendChunks(of: .manifest, from: source) }
        let sha256 = try sendChunks(of: .dataset, from: dataset)
        guard case .submitted(let receipt) = try send(.submitEnd(SubmitEnd(upload: upload, sha256: sha256, manifestSHA256: manifestSHA256)))
        else { throw ControlError(.protocolViolation, "submit.end was not answered with a receipt") }
        return receipt
    }
}
