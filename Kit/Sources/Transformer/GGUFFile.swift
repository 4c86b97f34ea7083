// SPDX-License-Identifier: Apache-2.0
import Glibc
import Linalg

/// An open GGUF file: its metadata, its tensor directory, and its bytes, mapped read-only.
///
/// Opening parses and validates the whole directory (every tensor lies aligned, inside the file,
/// apart from the others) but touches no tensor data; the kernel pages weights in as they are
/// dequantized. The mapping lives as long as any copy of the value.
///
/// ```swift
/// let file = try GGUFFile(contentsOf: path)
/// file.metadata["llama.embedding_length"]?.intValue      // 576
/// let embedding = try file.dequantized("token_embd.weight") // Tensor of shape (V, C)
/// ```
public struct GGUFFile: Sendable {
    /// Where the bytes came from (a path, or the name given to in-memory bytes).
    public let path: String
    /// The format version (2 or 3).
    public let version: Int
    public let metadata: GGUFMetadata
    /// Every tensor in file order.
    public let tensors: [GGUFTensorInfo]
    /// Alignment of the data section and of every tensor in it (`general.alignment`, default 32).
    public let alignment: Int
    /// Absolute file offset of the data section.
    public let dataOffset: Int
    private let storage: GGUFStorage
    private let tensorIndex: [String: Int]

    /// Maps the file at `path` read-only and parses it.
    ///
    /// - Throws: ``GGUFError`` naming the path, the offset and what is wrong.
    public init(contentsOf path: String) throws {
        try self.init(storage: try GGUFStorage(mapping: path), path: path)
    }

    /// Parses a GGUF image held in memory (tests, files produced by ``GGUFWriter``).
    ///
    /// - Throws: ``GGUFError`` with `name` as the path.
    public init(bytes: [UInt8], name: String = "<memory>") throws {
        try self.init(storage: GGUFStorage(copying: bytes), path: name)
    }

    private init(storage: GGUFStorage, path: String) throws {
        let layout = try GGUFParser.parse(storage.bytes, path: path)
        self.path = path
        self.storage = storage
        self.version = layout.version
        self.metadata = layout.metadata
        self.tensors = layout.tensors
        self.alignment = layout.alignment
        self.dataOffset = layout.dataOffset
        self.tensorIndex = Dictionary(uniqueKeysWithValues: layout.tensors.enumerated().map { ($1.name, $0) })
    }

    /// Size of the file in bytes.
    public var byteCount: Int { storage.bytes.count }

    /// The tensor called `name`, or nil.
    public func tensor(named name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// Calls `body` with the raw (possibly quantized) bytes of `tensor`.
    ///
    /// - Important: the pointer is valid only inside `body`.
    public func withUnsafeBytes<R>(of tensor: GGUFTensorInfo, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        precondition(tensorIndex[tensor.name].map { tensors[$0] } == tensor, "tensor \(tensor.name) is not from \(path)")
        let start = dataOffset + tensor.offset
        return try body(UnsafeRawBufferPointer(rebasing: storage.bytes[start..<(start + tensor.byteCount)]))
    }

    /// Writes `tensor` as Float32 into `out`, which holds exactly its ``GGUFTensorInfo/elementCount``
    /// values, in row-major order (so a model can dequantize straight into its parameter slab).
    ///
    /// - Throws: ``GGUFError`` `.unsupportedTensorType` if the type has no dequantizer.
    public func dequantize(_ tensor: GGUFTensorInfo, into out: UnsafeMutableBufferPointer<Float>) throws {
        precondition(out.count == tensor.elementCount,
                     "tensor \(tensor.name) has \(tensor.elementCount) values; buffer holds \(out.count)")
        guard tensor.type.canDequantize else {
            throw GGUFError(.unsupportedTensorType, path: path, offset: dataOffset + tensor.offset,
                            "tensor \"\(tensor.name)\" is \(tensor.type), which cannot be dequantized yet",
                            hint: "re-quantize the model to F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K or Q6_K")
        }
        guard let base = out.baseAddress else { return }
        withUnsafeBytes(of: tensor) { source in
            guard let start = source.baseAddress else { return }
            tensor.type.dequantize(start, count: tensor.elementCount, into: base)
        }
    }

    /// The tensor called `name` as a Float32 ``Tensor`` of its row-major ``GGUFTensorInfo/shape``.
    ///
    /// - Throws: ``GGUFError`` `.missingTensor` or `.unsupportedTensorType`.
    public func dequantized(_ name: String) throws -> Tensor {
        guard let info = tensor(named: name) else {
            throw GGUFError(.missingTensor, path: path, offset: nil, "no tensor is called \"\(name)\"",
                            hint: "the file holds \(tensors.count) tensors; check the architecture's tensor names")
        }
        var result = Tensor(shape: info.shape)
        try result.withUnsafeMutableBufferPointer { try dequantize(info, into: $0) }
        return result
    }
}

/// The bytes of a GGUF file: a read-only private mapping, or a copy of in-memory bytes.
///
/// Immutable after `init` and never written through, hence safe to share across threads.
private final class GGUFStorage: @unchecked Sendable {
    let bytes: UnsafeRawBufferPointer
    private let isMapped: Bool

    init(mapping path: String) throws {
        func unreadable(_ what: String) -> GGUFError {
            GGUFError(.unreadable, path: path, offset: nil, "\(what): \(String(cString: strerror(errno)))",
                      hint: "check that the file exists and is readable by this user")
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw unreadable("cannot open") }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw unreadable("cannot stat") }
        let size = Int(status.st_size)
        guard size > 0 else {
            throw GGUFError(.truncated, path: path, offset: 0, "file is empty", hint: "the file is incomplete; download or copy it again")
        }
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let address, Int(bitPattern: address) != -1 else { throw unreadable("cannot map \(size) bytes") }
        bytes = UnsafeRawBufferPointer(start: address, count: size)
        isMapped = true
    }

    init(copying source: [UInt8]) {
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: max(source.count, 1), alignment: 64)
        copy.copyBytes(from: source)
        bytes = UnsafeRawBufferPointer(rebasing: copy[0..<source.count])
        isMapped = false
    }

    deinit {
        if isMapped {
            munmap(UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count)
        } else {
            UnsafeMutableRawPointer(mutating: bytes.baseAddress)?.deallocate()
        }
    }
}
