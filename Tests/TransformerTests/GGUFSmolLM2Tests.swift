// SPDX-License-Identifier: Apache-2.0
import Foundation
import Testing
import TestSupport
import Transformer

/// The real SmolLM2-135M-Instruct Q4_1 file: metadata, tokenizer, and every tensor dequantized.
@Suite(.disabled(if: SharedFixtures.mayBeSkipped, Comment(rawValue: SharedFixtures.skipMessage)))
struct GGUFSmolLM2Tests {
    static let directory = "models/smollm2-135m-instruct"
    static func open() throws -> GGUFFile {
        try GGUFFile(contentsOf: SharedFixtures.url("\(directory)/SmolLM2-135M-Instruct.Q4_1.gguf").path)
    }

    @Test func configMatchesHuggingFaceConfig() throws {
        let file = try Self.open()
        #expect(file.version == 3 && file.tensors.count == 272)
        #expect(file.metadata["general.architecture"]?.stringValue == "llama")
        let fromGGUF = try LlamaConfig(gguf: file)
        let jsonURL = SharedFixtures.url("\(Self.directory)/config.json")
        let fromJSON = try LlamaConfig(huggingFaceConfig: Data(contentsOf: jsonURL), source: jsonURL.path)
        #expect(fromGGUF == fromJSON)
        // The README's numbers, as a second opinion on both readers.
        #expect(fromGGUF.layerCount == 30 && fromGGUF.hiddenSize == 576 && fromGGUF.headCount == 9)
        #expect(fromGGUF.kvHeadCount == 3 && fromGGUF.headDim == 64 && fromGGUF.intermediateSize == 1536)
        #expect(fromGGUF.vocabSize == 49152 && fromGGUF.ropeTheta == 100_000 && fromGGUF.tieWordEmbeddings)
    }

    @Test func tokenizerMetadata() throws {
        let tokenizer = try GGUFTokenizerMetadata(try Self.open())
        #expect(tokenizer.model == "gpt2" && tokenizer.preTokenizer == "smollm")
        #expect(tokenizer.tokens.count == 49152 && tokenizer.tokenTypes?.count == 49152)
        #expect(tokenizer.tokens[1] == "<|im_start|>" && tokenizer.tokens[2] == "<|im_end|>")
        #expect(tokenizer.merges.count > 40_000 && tokenizer.merges.first == "Ġ t")
        #expect(tokenizer.bosTokenID == 1 && tokenizer.eosTokenID == 2 && tokenizer.paddingTokenID == 2)
        #expect(tokenizer.unknownTokenID == 0 && tokenizer.addBOSToken == false)
        let template = try String(contentsOf: SharedFixtures.url("\(Self.directory)/chat_template.jinja"), encoding: .utf8)
        let trimmed = { (s: String) in s.trimmingCharacters(in: .whitespacesAndNewlines) }
        #expect(trimmed(try #require(tokenizer.chatTemplate)) == trimmed(template))
    }

    /// Every tensor dequantizes to finite values of a plausible size; six match gguf-py exactly.
    @Test func everyTensorDequantizes() throws {
        let file = try Self.open()
        #expect(Set(file.tensors.map(\.type.name)) == ["Q4_1", "Q8_0", "F32"])
        let largest = file.tensors.map(\.elementCount).max() ?? 0
        var buffer = [Float](repeating: 0, count: largest)
        var dequantizeTime = Duration.zero
        var total = 0
        for tensor in file.tensors {
            let count = tensor.elementCount
            total += count
            let (sum, sumSquares, finite) = try buffer.withUnsafeMutableBufferPointer { whole in
                let out = UnsafeMutableBufferPointer(rebasing: whole[0..<count])
                dequantizeTime += try ContinuousClock().measure { try file.dequantize(tensor, into: out) }
                var sum = 0.0, sumSquares = 0.0, finite = true
                for v in out {
                    finite = finite && v.isFinite
                    sum += Double(v)
                    sumSquares += Double(v) * Double(v)
                }
                return (sum, sumSquares, finite)
            }
            #expect(finite, "\(tensor.name) has non-finite values")
            let rms = (sumSquares / Double(count)).squareRoot()
            // Projections and embeddings are O(0.01–0.5); RMSNorm gains O(0.01–5).
            #expect(rms > 0.005 && rms < 10, "\(tensor.name): rms \(rms)")
            if let reference = GGUFReferenceValues.smolLM2.first(where: { $0.name == tensor.name }) {
                #expect(tensor.type.name == reference.type && tensor.dimensions == reference.dims)
                let head = GGUFTensorTypeTests.floats(hex: reference.head)
                #expect(Array(buffer[0..<head.count]) == head, "\(tensor.name) first values")
                for (index, value) in reference.probes { #expect(buffer[index] == value, "\(tensor.name)[\(index)]") }
                #expect(abs(sum - reference.sum) <= 1e-9 * reference.sumSquares, "\(tensor.name) sum \(sum)")
                #expect(abs(sumSquares - reference.sumSquares) <= 1e-9 * reference.sumSquares)
            }
        }
        #expect(total == 134_515_008)
        print("dequantized \(file.tensors.count) tensors (\(total) values) in \(dequantizeTime)")
    }
}
