// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing
import Transformer

/// Reading files written by ``GGUFWriter``, and refusing every kind of malformed file with its own code.
@Suite struct GGUFFileTests {
    /// metadata {"k": u32 7}, tensor "t" F32 (4). Byte layout, for patching:
    ///
    ///     0 magic | 4 version | 8 tensor count | 16 kv count | 24 key length | 32 "k" | 33 value type
    ///     37 value | 41 name length | 49 "t" | 50 n_dims | 54 dim | 62 type | 66 offset | 74 end
    ///     96 data (16 bytes) | 112 end of file
    static func small() -> [UInt8] {
        var writer = GGUFWriter(metadata: GGUFMetadata([("k", .uint32(7))])!)
        writer.addTensor(name: "t", shape: [4], values: [1, 2, 3, 4])
        return writer.serialized()
    }

    static func patch(_ bytes: [UInt8], at offset: Int, _ value: some FixedWidthInteger) -> [UInt8] {
        var result = bytes
        withUnsafeBytes(of: value.littleEndian) { result.replaceSubrange(offset..<(offset + $0.count), with: $0) }
        return result
    }

    /// Parses `bytes` and returns the error, which must carry the in-memory name as its path.
    static func failure(_ bytes: [UInt8], _ sourceLocation: SourceLocation = #_sourceLocation) -> GGUFError? {
        do {
            _ = try GGUFFile(bytes: bytes, name: "crafted.gguf")
            Issue.record("crafted file was accepted", sourceLocation: sourceLocation)
            return nil
        } catch let error as GGUFError {
            #expect(error.path == "crafted.gguf", sourceLocation: sourceLocation)
            #expect(!error.hint.isEmpty, sourceLocation: sourceLocation)
            return error
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }

    @Test func smallLayoutIsAsDocumented() throws {
        let bytes = Self.small()
        #expect(bytes.count == 112)
        let file = try GGUFFile(bytes: bytes)
        #expect(file.version == 3 && file.alignment == 32 && file.dataOffset == 96)
        #expect(file.metadata["k"] == .uint32(7))
        #expect(try file.dequantized("t").scalars == [1, 2, 3, 4])
    }

    @Test func everyValueTypeRoundTrips() throws {
        let entries: [(key: String, value: GGUFValue)] = [
            ("u8", .uint8(200)), ("i8", .int8(-100)), ("u16", .uint16(60000)), ("i16", .int16(-30000)),
            ("u32", .uint32(4_000_000_000)), ("i32", .int32(-2_000_000_000)),
            ("u64", .uint64(UInt64.max)), ("i64", .int64(Int64.min)),
            ("f32", .float32(1.5e-5)), ("f64", .float64(-2.25)), ("yes", .bool(true)), ("no", .bool(false)),
            ("text", .string("héllo ⟨GGUF⟩")), ("empty", .string("")),
            ("ints", .array(.int32, [.int32(1), .int32(-2)])), ("none", .array(.float32, [])),
            ("nested", .array(.array, [.array(.string, [.string("a"), .string("b c")]), .array(.uint8, [.uint8(9)])])),
            ("general.alignment", .uint32(64)),
        ]
        var writer = GGUFWriter(metadata: try #require(GGUFMetadata(entries)))
        writer.addTensor(name: "a", shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        writer.addTensor(name: "b", shape: [5], values: [-1, -2, -3, -4, -5])
        let file = try GGUFFile(bytes: writer.serialized())
        #expect(file.metadata.keys == entries.map(\.key))
        for (key, value) in entries { #expect(file.metadata[key] == value, "\(key)") }
        #expect(file.alignment == 64 && file.dataOffset % 64 == 0)
        let a = try #require(file.tensor(named: "a"))
        #expect(a.dimensions == [3, 2] && a.shape == [2, 3] && a.type == .f32 && a.byteCount == 24)
        #expect(file.tensor(named: "b")?.offset == 64)
        #expect(try file.dequantized("a").shape == [2, 3])
        #expect(try file.dequantized("b").scalars == [-1, -2, -3, -4, -5])
        #expect(file.metadata["u64"]?.intValue == nil && file.metadata["i32"]?.intValue == -2_000_000_000)
        #expect(file.metadata["f32"]?.doubleValue == Double(Float(1.5e-5)))
        #expect(file.metadata["nested"]?.arrayValue?.first?.stringArray == ["a", "b c"])
        #expect(file.metadata["ints"]?.intArray == [1, -2] && file.metadata["ints"]?.stringArray == nil)
    }

    @Test func mapsAFileFromDisk() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("gguf-\(UUID().uuidString).gguf")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data(Self.small()).write(to: url)
        let file = try GGUFFile(contentsOf: url.path)
        #expect(file.path == url.path && file.byteCount == 112)
        #expect(try file.dequantized("t").scalars == [1, 2, 3, 4])

        try Data().write(to: url)
        #expect(throws: GGUFError(.truncated, path: "", offset: nil, "", hint: "")) { try GGUFFile(contentsOf: url.path) }
        let missing = url.path + ".absent"
        let error = #expect(throws: GGUFError.self) { try GGUFFile(contentsOf: missing) }
        #expect(error?.code == .unreadable && error?.path == missing)
    }

    @Test func headerErrors() {
        let bytes = Self.small()
        var wrongMagic = bytes
        wrongMagic[0] = UInt8(ascii: "X")
        #expect(Self.failure(wrongMagic)?.code == .badMagic)
        #expect(Self.failure(Self.patch(bytes, at: 4, UInt32(1)))?.code == .unsupportedVersion)
        let bigEndian = Self.failure(Self.patch(bytes, at: 4, UInt32(3).byteSwapped))
        #expect(bigEndian?.code == .unsupportedVersion && bigEndian?.hint.contains("big-endian") == true)
        let version2 = Self.patch(bytes, at: 4, UInt32(2))
        #expect((try? GGUFFile(bytes: version2))?.version == 2)
        let short = Self.failure(Array(bytes.prefix(10)))
        #expect(short?.code == .truncated && short?.message.contains("header") == true && short?.offset == 8)
        #expect(Self.failure(Array(bytes.prefix(3)))?.code == .truncated)
        #expect(Self.failure(Self.patch(bytes, at: 16, UInt64(1) << 40))?.code == .lengthOutOfRange)
    }

    @Test func metadataErrors() throws {
        let bytes = Self.small()
        let cut = Self.failure(Array(bytes.prefix(39)))
        #expect(cut?.code == .truncated && cut?.message.contains("metadata") == true && cut?.offset == 37)
        let longKey = Self.failure(Self.patch(bytes, at: 24, UInt64(1_000_000)))
        #expect(longKey?.code == .lengthOutOfRange && longKey?.offset == 24)
        let badType = Self.failure(Self.patch(bytes, at: 33, UInt32(99)))
        #expect(badType?.code == .unknownValueType && badType?.offset == 33 && badType?.message.contains("99") == true)
        #expect(Self.failure(Self.patch(bytes, at: 32, UInt8(0xFF)))?.code == .invalidString)

        var twoKeys = GGUFWriter(metadata: GGUFMetadata([("j", .uint8(1)), ("k", .uint8(2))])!).serialized()
        twoKeys[32] = UInt8(ascii: "k")
        #expect(Self.failure(twoKeys)?.code == .duplicateKey)

        let array = GGUFWriter(metadata: GGUFMetadata([("a", .array(.uint32, [.uint32(1)]))])!).serialized()
        // 33 value type | 37 element type | 41 count
        let hugeArray = Self.failure(Self.patch(array, at: 41, UInt64(1) << 50))
        #expect(hugeArray?.code == .lengthOutOfRange && hugeArray?.offset == 41)
        #expect(Self.failure(Self.patch(array, at: 37, UInt32(13)))?.code == .unknownValueType)

        var deep = GGUFValue.array(.uint8, [])
        for _ in 0..<5 { deep = .array(.array, [deep]) }
        #expect(Self.failure(GGUFWriter(metadata: GGUFMetadata([("deep", deep)])!).serialized())?.code == .nestingTooDeep)
        let odd = GGUFWriter(metadata: GGUFMetadata([("general.alignment", .uint32(24))])!).serialized()
        #expect(Self.failure(odd)?.code == .badAlignment)
        let signed = GGUFWriter(metadata: GGUFMetadata([("general.alignment", .int32(32))])!).serialized()
        #expect(Self.failure(signed)?.code == .badAlignment)
    }

    @Test func tensorInfoErrors() {
        let bytes = Self.small()
        let cut = Self.failure(Array(bytes.prefix(60)))
        #expect(cut?.code == .truncated && cut?.message.contains("tensor infos") == true)
        #expect(Self.failure(Self.patch(bytes, at: 41, UInt64(500)))?.code == .lengthOutOfRange)
        let unknown = Self.failure(Self.patch(bytes, at: 62, UInt32(99)))
        #expect(unknown?.code == .unknownTensorType && unknown?.offset == 62)
        #expect(Self.failure(Self.patch(bytes, at: 50, UInt32(5)))?.code == .inconsistentDimensions)
        #expect(Self.failure(Self.patch(bytes, at: 50, UInt32(0)))?.code == .inconsistentDimensions)
        #expect(Self.failure(Self.patch(bytes, at: 54, UInt64(0)))?.code == .inconsistentDimensions)
        #expect(Self.failure(Self.patch(bytes, at: 54, UInt64.max))?.code == .inconsistentDimensions)
        // Q8_0 blocks hold 32 values; a row of 4 is not a whole block.
        let partialBlock = Self.failure(Self.patch(bytes, at: 62, GGUFTensorType.q8_0.rawValue))
        #expect(partialBlock?.code == .inconsistentDimensions && partialBlock?.message.contains("Q8_0") == true)

        var twoNames = GGUFWriter()
        twoNames.addTensor(name: "a", shape: [1], values: [1])
        twoNames.addTensor(name: "b", shape: [1], values: [2])
        var duplicate = twoNames.serialized()
        // 24 "a" tensor: name length, "a" at 32, 33 n_dims, 37 dim, 45 type, 49 offset | 57 "b" length, "b" at 65
        duplicate[65] = UInt8(ascii: "a")
        #expect(Self.failure(duplicate)?.code == .duplicateTensorName)
    }

    @Test func dataErrors() {
        let bytes = Self.small()
        let cut = Self.failure(Array(bytes.prefix(100)))
        #expect(cut?.code == .truncated && cut?.message.contains("tensor \"t\"") == true)
        #expect(Self.failure(Array(bytes.prefix(80)))?.code == .truncated)
        let far = Self.failure(Self.patch(bytes, at: 66, UInt64(4096)))
        #expect(far?.code == .tensorOffsetOutOfRange && far?.offset == 96 + 4096)
        #expect(Self.failure(Self.patch(bytes, at: 66, UInt64(4)))?.code == .tensorMisaligned)
        #expect(Self.failure(Self.patch(bytes, at: 66, UInt64.max))?.code == .tensorOffsetOutOfRange)

        var two = GGUFWriter()
        two.addTensor(name: "a", shape: [8], values: Array(repeating: 1, count: 8))
        two.addTensor(name: "b", shape: [8], values: Array(repeating: 2, count: 8))
        let overlapping = Self.failure(Self.patch(two.serialized(), at: 65 + 1 + 4 + 8 + 4, UInt64(0)))
        #expect(overlapping?.code == .overlappingTensors)
    }

    @Test func lookupErrors() throws {
        var writer = GGUFWriter()
        writer.addTensor(name: "k2", type: try #require(GGUFTensorType(rawValue: 10)), dimensions: [256],
                         bytes: Array(repeating: 0, count: 84))
        let file = try GGUFFile(bytes: writer.serialized(), name: "q2k.gguf")
        let unsupported = #expect(throws: GGUFError.self) { try file.dequantized("k2") }
        #expect(unsupported?.code == .unsupportedTensorType && unsupported?.message.contains("Q2_K") == true)
        let missing = #expect(throws: GGUFError.self) { try file.dequantized("nope") }
        #expect(missing?.code == .missingTensor && missing?.path == "q2k.gguf")
    }
}
