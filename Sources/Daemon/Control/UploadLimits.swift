// SPDX-License-Identifier: Apache-2.0

/// How much the daemon takes through `submit.*` uploads at once.
///
/// Every staged byte sits on the spool's disk until the upload ends, so both the size of
/// one upload and the number at once are bounded; an idle one is dropped so that a client
/// that keeps its connection busy with other requests cannot hold its staging files forever.
public struct UploadLimits: Sendable {
    /// The largest dataset; bigger ones go through the spool directly.
    public var maxDatasetBytes: Int
    /// The largest manifest: intake reads no more of one.
    public var maxManifestBytes: Int
    /// Uploads in progress on all connections together.
    public var maxUploads: Int
    /// Uploads in progress on one connection.
    public var maxUploadsPerConnection: Int
    /// How long an upload may go without a chunk before its staging files are removed.
    public var idleTimeout: Duration

    public init(
        maxDatasetBytes: Int = 1 << 30, maxManifestBytes: Int = 1 << 20, maxUploads: Int = 4,
        maxUploadsPerConnection: Int = 2, idleTimeout: Duration = .seconds(60)
    ) {
        self.maxDatasetBytes = maxDatasetBytes
        self.maxManifestBytes = maxManifestBytes
        self.maxUploads = maxUploads
        self.maxUploadsPerConnection = maxUploadsPerConnection
        self.idleTimeout = idleTimeout
    }
}
