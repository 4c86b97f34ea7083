// SPDX-License-Identifier: Apache-2.0
import Foundation
import Linalg
import TestSupport
import Testing
import Transformer

@Suite struct SafetensorsFileTests {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("dptune-st-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    /// A file from a literal header and data section (the length prefix is computed
    /// unless `declaredLength` overrides it).
    func craft(_ header: String, data: [UInt8] = [], declaredLength: UInt64? = nil, name: String = #function) throws -> URL {
        var bytes = Data()
        let json = Data(header.utf8)
        withUnsafeBytes(of: (declaredLength ?? UInt64(json.count)).littleEndian) { bytes.append(contentsOf: $0) }
        bytes.append(json)
        bytes.append(contentsOf: data)
        let url = directory.appendingPathComponent(name.filter(\.isLetter) + ".safetensors")
        try bytes.write(to: url)
        return url
    }

    func expectError(_ code: SafetensorsError.Code, _ url: URL, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(sourceLocation: sourceLocation) { try SafetensorsFile(url: url) } throws: { error in
            (error as? SafetensorsError)?.code == code
        }
    }

    @Test func roundTripKeepsValuesShapesAndMetadata() throws {
        let a = Tensor(shape: [2, 3], data: [1, -2, 3.5, 4, 5, 6]), b = Tensor(shape: [1], data: [7])
        let url = directory.appendingPathComponent("round.safetensors")
        try SafetensorsFile.write(["b": b, "a": a], metadata: ["format": "pt"], to: url)
        let file = try SafetensorsFile(url: url)
        #expect(file.names == ["a", "b"])
        #expect(file.metadata == ["format": "pt"])
        #expect(try file.entry("a").shape == [2, 3])
        let mapped = try #require(try file.mappedFloats("a"))
        #expect(Array(mapped) == a.scalars)
        #expect(try file.tensor("b").scalars == [7])
        #expect(throws: SafetensorsError(.missingTensor, "")) { try file.tensor("c") }
    }

    @Test func halfPrecisionIsWidenedOnAccess() throws {
        // F16 1.5 = 0x3E00, -2 = 0xC000; BF16 1.5 = 0x3FC0, -2 = 0xC000; I64 7
        let url = try craft(#"{"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[4,8]},"i":{"dtype":"I64","shape":[1],"data_offsets":[8,16]}}"#,
                            data: [0x00, 0x3E, 0x00, 0xC0, 0xC0, 0x3F, 0x00, 0xC0, 7, 0, 0, 0, 0, 0, 0, 0])
        let file = try SafetensorsFile(url: url)
        #expect(try file.tensor("h").scalars == [1.5, -2])
        #expect(try file.tensor("b").scalars == [1.5, -2])
        #expect(try file.mappedFloats("h") == nil)
        #expect(try file.int64s("i") == [7])
        #expect(throws: SafetensorsError(.wrongDtype, "")) { try file.tensor("i") }
    }

    @Test func truncatedFiles() throws {
        let tiny = directory.appendingPathComponent("tiny.safetensors")
        try Data([1, 2, 3]).write(to: tiny)
        expectError(.truncatedFile, tiny)
        expectError(.truncatedFile, try craft(#"{}"#, declaredLength: 50))
    }

    @Test func badHeaderLength() throws {
        expectError(.badHeaderLength, try craft("", declaredLength: 0))
        expectError(.badHeaderLength, try craft(#"{}"#, declaredLength: 1 << 40))
    }

    @Test func badJSON() throws {
        expectError(.badJSON, try craft(#"{"a": [1,"#))
        expectError(.badJSON, try craft(#"[1, 2]"#))
    }

    @Test func badEntries() throws {
        expectError(.badEntry, try craft(#"{"a":{"dtype":"F32","shape":[1]}}"#, data: [0, 0, 0, 0]))
        expectError(.badEntry, try craft(#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: [0, 0, 0, 0]))
        expectError(.badEntry, try craft(#"{"__metadata__":{"k":1}}"#))
    }

    @Test func unknownDtype() throws {
        expectError(.unknownDtype, try craft(#"{"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)))
    }

    @Test func offsetsOutOfRange() throws {
        expectError(.offsetsOutOfRange, try craft(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, data: [0, 0, 0, 0]))
        expectError(.offsetsOutOfRange, try craft(#"{"a":{"dtype":"F32","shape":[0],"data_offsets":[4,0]}}"#, data: [0, 0, 0, 0]))
    }

    @Test func sizeMismatch() throws {
        expectError(.sizeMismatch, try craft(#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: [UInt8](repeating: 0, count: 8)))
    }

    @Test func overlap() throws {
        expectError(.overlap, try craft(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                                        data: [UInt8](repeating: 0, count: 8)))
    }

    @Test(.disabled(if: SharedFixtures.mayBeSkipped, Comment(rawValue: SharedFixtures.skipMessage)))
    func realCheckpointIsMappedWithoutCopying() throws {
        let file = try SafetensorsFile(url: SharedFixtures.url("models/minilm-l6/model.safetensors"))
        #expect(file.entries.count == 104)
        #expect(file.metadata["format"] == "pt")
        let embeddings = try #require(try file.mappedFloats("embeddings.word_embeddings.weight"))
        #expect(embeddings.count == 30522 * 384)
        #expect(try file.int64s("embeddings.position_ids").prefix(3) == [0, 1, 2])
    }

    @Test func missingFile() {
        expectError(.cannotOpen, directory.appendingPathComponent("absent.safetensors"))
    }
}
