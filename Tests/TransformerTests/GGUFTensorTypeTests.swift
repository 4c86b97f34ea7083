// SPDX-License-Identifier: Apache-2.0
import Testing
import Transformer

/// Dequantization of every supported ggml type against the gguf Python package.
@Suite struct GGUFTensorTypeTests {
    static func bytes(hex: String) -> [UInt8] {
        var result: [UInt8] = []
        var iterator = hex.utf8.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            func nibble(_ c: UInt8) -> UInt8 { c <= UInt8(ascii: "9") ? c - UInt8(ascii: "0") : c - UInt8(ascii: "a") + 10 }
            result.append(nibble(high) << 4 | nibble(low))
        }
        return result
    }

    static func floats(hex: String) -> [Float] {
        let raw = bytes(hex: hex)
        return stride(from: 0, to: raw.count, by: 4).map { i in
            Float(bitPattern: UInt32(raw[i]) | UInt32(raw[i + 1]) << 8 | UInt32(raw[i + 2]) << 16 | UInt32(raw[i + 3]) << 24)
        }
    }

    @Test(arguments: GGUFReferenceValues.blocks.map(\.name))
    func dequantizationMatchesGGUFPython(_ name: String) throws {
        let reference = try #require(GGUFReferenceValues.blocks.first { $0.name == name })
        let type = try #require(GGUFTensorType(rawValue: reference.type))
        #expect(type.name == name && type.canDequantize)
        let expected = Self.floats(hex: reference.floats)
        var writer = GGUFWriter()
        writer.addTensor(name: "x", type: type, dimensions: [expected.count], bytes: Self.bytes(hex: reference.bytes))
        let got = try GGUFFile(bytes: writer.serialized()).dequantized("x").scalars
        #expect(got.count == expected.count)
        // Same formula as ggml, so the only possible difference is the order of two roundings.
        let scale = expected.map(abs).max() ?? 0
        let maxDifference = zip(got, expected).map { abs($0 - $1) }.max() ?? 0
        print("\(name): \(got.count) values, max |difference| \(maxDifference) (max |value| \(scale))")
        #expect(maxDifference <= scale * 2e-7)
        #expect(scale > 0)
    }

    @Test func geometry() throws {
        #expect(GGUFTensorType.q4_1.blockSize == 32 && GGUFTensorType.q4_1.typeSize == 20)
        #expect(GGUFTensorType.q6_K.blockSize == 256 && GGUFTensorType.q6_K.typeSize == 210)
        #expect(GGUFTensorType(rawValue: 9) == nil)  // Q8_1 never appears in files
        #expect(GGUFTensorType(rawValue: 4) == nil)  // removed Q4_2
        let q2K = try #require(GGUFTensorType(rawValue: 10))
        #expect(q2K.name == "Q2_K" && !q2K.canDequantize)
    }
}
