// SPDX-License-Identifier: Apache-2.0
import Foundation
import Records

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A file the client uploads with `submit.*`, opened with the caller's own rights: what the
/// caller can open is what it may submit, and the daemon never needs the path.
///
/// - Important: Not thread-safe; reads advance the file position.
public final class UploadSource {
    /// The file's name without its directory, as the daemon is told it.
    public let name: String
    /// The path, for messages.
    public let path: String
    /// The length when opened: exactly this many bytes are sent.
    public let size: Int
    private let descriptor: CInt

    /// Opens the regular file at `path` for reading.
    ///
    /// - Throws: ``ControlError`` `.unreadableFile` when it cannot be opened or is not a
    ///   regular file (a FIFO or device has no length to announce).
    public init(path: String) throws(ControlError) {
        self.path = path
        name = URL(fileURLWithPath: path).lastPathComponent
        descriptor = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard descriptor >= 0 else {
            throw ControlError(.unreadableFile, "cannot open \(path): \(String(cString: strerror(errno)))")
        }
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFREG else {
            Glibc.close(descriptor)
            throw ControlError(.unreadableFile, "\(path) is not a regular file")
        }
        size = Int(status.st_size)
    }

    deinit {
        Glibc.close(descriptor)
    }

    /// Reads the file from its start in pieces of at most `chunkBytes`, passing each with its
    /// offset to `send`; returns the SHA-256 of exactly the bytes passed.
    ///
    /// - Throws: ``ControlError`` `.unreadableFile` when a read fails or the file's length
    ///   changed since it was opened (the bytes sent would not be the file announced), or
    ///   what `send` throws.
    func read(
        inChunksOf chunkBytes: Int, _ send: (_ offset: Int, _ bytes: Data) throws(ControlError) -> Void
    ) throws(ControlError) -> String {
        guard lseek(descriptor, 0, SEEK_SET) == 0 else {
            throw ControlError(.unreadableFile, "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        var hasher = SHA256()
        var offset = 0
        var buffer = [UInt8](repeating: 0, count: max(1, chunkBytes))
        while true {
            let wanted = offset < size ? min(buffer.count, size - offset) : 1
            let count = try fill(&buffer, upTo: wanted)
            if offset == size {
                guard count == 0 else { throw ControlError(.unreadableFile, "\(path) grew while it was being read") }
                return hasher.hexDigest()
            }
            guard count == wanted else { throw ControlError(.unreadableFile, "\(path) shrank while it was being read") }
            let bytes = Data(buffer[0..<count])
            hasher.update(bytes)
            try send(offset, bytes)
            offset += count
        }
    }

    /// Reads until `buffer` holds `wanted` bytes or the file ends; returns how many it holds.
    private func fill(_ buffer: inout [UInt8], upTo wanted: Int) throws(ControlError) -> Int {
        var filled = 0
        while filled < wanted {
            let count = buffer.withUnsafeMutableBytes { raw in
                Glibc.read(descriptor, raw.baseAddress.map { $0 + filled }, wanted - filled)
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw ControlError(.unreadableFile, "cannot read \(path): \(String(cString: strerror(errno)))")
            }
            if count == 0 { break }
            filled += count
        }
        return filled
    }
}
