// SPDX-License-Identifier: Apache-2.0
import Testing
import Transformer

@Suite struct GGUFTokenizerMetadataTests {
    static func file(_ extra: [(key: String, value: GGUFValue)]) throws -> GGUFFile {
        var metadata = GGUFMetadata([
            ("tokenizer.ggml.model", .string("gpt2")),
            ("tokenizer.ggml.tokens", .array(.string, ["a", "b", "ab"].map(GGUFValue.string))),
        ])!
        for (key, value) in extra { metadata[key] = value }
        return try GGUFFile(bytes: GGUFWriter(metadata: metadata).serialized(), name: "tok.gguf")
    }

    @Test func readsPlainValues() throws {
        let tokenizer = try GGUFTokenizerMetadata(try Self.file([
            ("tokenizer.ggml.merges", .array(.string, [.string("a b")])),
            ("tokenizer.ggml.token_type", .array(.int32, [.int32(1), .int32(1), .int32(3)])),
            ("tokenizer.ggml.eos_token_id", .uint32(2)), ("tokenizer.chat_template", .string("{{ x }}")),
        ]))
        #expect(tokenizer.tokens == ["a", "b", "ab"] && tokenizer.merges == ["a b"] && tokenizer.tokenTypes == [1, 1, 3])
        #expect(tokenizer.eosTokenID == 2 && tokenizer.bosTokenID == nil && tokenizer.chatTemplate == "{{ x }}")
        #expect(tokenizer.preTokenizer == nil && tokenizer.addBOSToken == nil)
    }

    @Test func refusesBrokenValues() throws {
        var missing = GGUFMetadata()
        missing["tokenizer.ggml.model"] = .string("gpt2")
        let error = #expect(throws: GGUFError.self) {
            try GGUFTokenizerMetadata(try GGUFFile(bytes: GGUFWriter(metadata: missing).serialized(), name: "tok.gguf"))
        }
        #expect(error?.code == .missingMetadata && error?.message.contains("tokenizer.ggml.tokens") == true)
        for extra: (key: String, value: GGUFValue) in [
            ("tokenizer.ggml.eos_token_id", .uint32(3)),
            ("tokenizer.ggml.token_type", .array(.int32, [.int32(1)])),
            ("tokenizer.ggml.merges", .array(.int32, [.int32(1)])),
            ("tokenizer.ggml.model", .uint8(1)),
        ] {
            let error = #expect(throws: GGUFError.self) { try GGUFTokenizerMetadata(try Self.file([extra])) }
            #expect(error?.code == .invalidMetadata && error?.message.contains(extra.key) == true)
        }
    }
}
