// SPDX-License-Identifier: Apache-2.0
import Foundation

/// Which file of an upload a chunk carries.
public enum UploadFile: String, Sendable, Hashable, Codable, CaseIterable {
    case dataset
    case manifest
}

/// `submit.begin`: the client is about to send a dataset (and manifest) that it read with its
/// own rights; the daemon stages the bytes in the spool's `tmp/` as they arrive.
///
/// The daemon never opens a path of the client's: it may not see the client's files at all
/// (`ProtectHome`, `PrivateTmp`), and what the caller may read is the caller's own business.
public struct SubmitBegin: Sendable, Hashable, Codable {
    /// The dataset's file name, e.g. `notes.jsonl`: the daemon names the spool entry after it.
    public var name: String
    /// The dataset's length in bytes.
    public var size: Int
    /// The manifest's length in bytes; nil when there is no manifest.
    public var manifestSize: Int?

    public init(name: String, size: Int, manifestSize: Int? = nil) {
        self.name = name
        self.size = size
        self.manifestSize = manifestSize
    }

    enum CodingKeys: String, CodingKey {
        case name, size
        case manifestSize = "manifest_size"
    }
}

/// `submit.chunk`: the next bytes of one file of an upload, at the offset where the previous
/// chunk of that file ended.
public struct SubmitChunk: Sendable, Hashable, Codable {
    public var upload: String
    public var file: UploadFile
    public var offset: Int
    /// The bytes in base64, as sent: the daemon decodes them (``bytes()``) as part of the
    /// upload, so that a bad encoding ends that upload rather than being refused before the
    /// daemon knows which upload it belongs to.
    public var data: String

    public init(upload: String, file: UploadFile, offset: Int, bytes: Data) {
        self.upload = upload
        self.file = file
        self.offset = offset
        self.data = bytes.base64EncodedString()
    }

    /// The chunk's bytes.
    ///
    /// - Throws: ``ControlError`` `.invalidEncoding` when `data` is not base64.
    public func bytes() throws(ControlError) -> Data {
        guard let bytes = Data(base64Encoded: data) else {
            throw ControlError(.invalidEncoding, "the \(file.rawValue) chunk at offset \(offset) of upload \(upload) is not valid base64")
        }
        return bytes
    }
}

/// `submit.end`: every byte was sent; the daemon compares the hashes with what it received,
/// then places the files in `incoming/` and answers with a ``SubmitReceipt``.
public struct SubmitEnd: Sendable, Hashable, Codable {
    public var upload: String
    /// The dataset's SHA-256 as the client read it, 64 hex digits.
    public var sha256: String
    /// The manifest's SHA-256; nil when there is no manifest.
    public var manifestSHA256: String?

    public init(upload: String, sha256: String, manifestSHA256: String? = nil) {
        self.upload = upload
        self.sha256 = sha256
        self.manifestSHA256 = manifestSHA256
    }

    enum CodingKeys: String, CodingKey {
        case upload, sha256
        case manifestSHA256 = "manifest_sha256"
    }
}

/// The answer to `submit.begin` and `submit.chunk`: the upload as the daemon holds it.
public struct UploadProgress: Sendable, Hashable, Codable {
    /// The id that the upload's later requests name.
    public var upload: String
    /// Bytes of the dataset received so far: the offset of its next chunk.
    public var datasetBytes: Int
    /// Bytes of the manifest received so far.
    public var manifestBytes: Int

    public init(upload: String, datasetBytes: Int = 0, manifestBytes: Int = 0) {
        self.upload = upload
        self.datasetBytes = datasetBytes
        self.manifestBytes = manifestBytes
    }

    enum CodingKeys: String, CodingKey {
        case upload
        case datasetBytes = "dataset_bytes"
        case manifestBytes = "manifest_bytes"
    }
}
