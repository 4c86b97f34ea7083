// SPDX-License-Identifier: Apache-2.0
import Foundation

/// Byte-level BPE (GPT-2, SmolLM2, …), id-for-id with Hugging Face `tokenizers`.
///
/// Text is split on added tokens first (`<|im_start|>` in the text is its special id),
/// the rest into words by the ``PreTokenizerKind`` regex, each word's UTF-8 bytes become
/// ``ByteLevelAlphabet`` symbols, and adjacent symbols are merged lowest merge rank first
/// (leftmost on ties) until no ranked pair remains. Decoding maps tokens back to bytes,
/// so any text round-trips.
public struct ByteLevelBPETokenizer: Tokenizer {
    private struct Merge: Sendable {
        let rank: Int32
        let id: Int32
    }

    /// The bytes each id decodes to (empty for unused ids).
    private let bytesByID: [[UInt8]]
    /// The id of each single-byte symbol, or -1 if the vocabulary lacks it (then the
    /// byte is dropped, as Hugging Face does without an unknown token).
    private let byteIDs: [Int32]
    /// Keyed by `left << 32 | right`.
    private let merges: [UInt64: Merge]
    private let preTokenizer: ByteLevelPreTokenizer
    private let addedTokens: AddedTokenMatcher
    private let specialIDs: Set<Int32>
    /// Added around every encoding by a `TemplateProcessing` post-processor (e.g. a BOS).
    private let prefixIDs: [Int32]
    private let suffixIDs: [Int32]
    private let cache = WordCache()

    public let specialTokenIDs: [String: Int32]
    public let vocabularySize: Int
    public var preTokenizerKind: PreTokenizerKind { preTokenizer.kind }

    private init(
        vocabulary: [String: Int32],
        merges: [(String, String)],
        addedTokens: [(content: String, id: Int32, special: Bool)],
        preTokenizer: PreTokenizerKind,
        prefixIDs: [Int32] = [],
        suffixIDs: [Int32] = [],
        source: String
    ) throws {
        // Ids are dense in real vocabularies; the bound keeps a corrupt id from sizing the tables.
        let idLimit = vocabulary.count + addedTokens.count
        let largestID = max(vocabulary.values.max() ?? -1, addedTokens.map(\.id).max() ?? -1)
        for (token, id) in vocabulary.lazy.map({ ($0.key, $0.value) }) + addedTokens.map({ ($0.content, $0.id) })
        where id < 0 || Int(id) >= idLimit {
            throw TokenizerError(.invalidVocabulary, "\(source): token \"\(token)\" has id \(id), outside 0..<\(idLimit)")
        }
        var bytesByID = [[UInt8]](repeating: [], count: Int(largestID) + 1)
        for (token, id) in vocabulary { bytesByID[Int(id)] = ByteLevelAlphabet.bytes(of: token) }
        for token in addedTokens { bytesByID[Int(token.id)] = Array(token.content.utf8) }
        var mergeTable = [UInt64: Merge](minimumCapacity: merges.count)
        for (rank, (left, right)) in merges.enumerated() {
            guard let leftID = vocabulary[left], let rightID = vocabulary[right], let mergedID = vocabulary[left + right] else {
                throw TokenizerError(.invalidVocabulary, "\(source): merge \(rank) \"\(left) \(right)\" uses or makes a token missing from the vocabulary")
            }
            let key = Self.pairKey(leftID, rightID)
            if mergeTable[key] == nil { mergeTable[key] = Merge(rank: Int32(rank), id: mergedID) }
        }
        self.bytesByID = bytesByID
        self.byteIDs = ByteLevelAlphabet.scalarsByByte.map { vocabulary[String($0)] ?? -1 }
        self.merges = mergeTable
        self.preTokenizer = ByteLevelPreTokenizer(kind: preTokenizer)
        self.addedTokens = AddedTokenMatcher(tokens: addedTokens.map { ($0.content, $0.id) })
        let specials = addedTokens.filter(\.special)
        self.specialIDs = Set(specials.map(\.id))
        self.specialTokenIDs = Dictionary(specials.map { ($0.content, $0.id) }, uniquingKeysWith: { first, _ in first })
        self.prefixIDs = prefixIDs
        self.suffixIDs = suffixIDs
        self.vocabularySize = Int(largestID) + 1
    }

    /// Builds the tokenizer from the parts a GGUF file stores.
    ///
    /// - Parameters:
    ///   - tokens: `tokenizer.ggml.tokens`, the token spelled in ``ByteLevelAlphabet`` at each id.
    ///   - merges: `tokenizer.ggml.merges`, `"left right"`, highest priority first.
    ///   - specialTokenIDs: ids whose token is matched verbatim in text before BPE and
    ///     skipped when decoding without special tokens (GGUF token type 3, control).
    ///   - preTokenizer: from `tokenizer.ggml.pre` via ``PreTokenizerKind/init(ggufName:)``.
    /// - Throws: ``TokenizerError`` `.invalidVocabulary` naming a malformed merge, a merge
    ///   over unknown tokens, or a special id outside `tokens`.
    public init(tokens: [String], merges: [String], specialTokenIDs: [Int32], preTokenizer: PreTokenizerKind) throws {
        var vocabulary = [String: Int32](minimumCapacity: tokens.count)
        for (id, token) in tokens.enumerated() where vocabulary[token] == nil {
            vocabulary[token] = Int32(id)
        }
        let pairs = try merges.enumerated().map { rank, merge in
            guard let pair = TokenizerJSON.Merge.split(merge) else {
                throw TokenizerError(.invalidVocabulary, "GGUF merge \(rank) \"\(merge)\" is not two tokens separated by one space")
            }
            return pair
        }
        let added = try specialTokenIDs.map { id in
            guard id >= 0, Int(id) < tokens.count else {
                throw TokenizerError(.invalidVocabulary, "GGUF special token id \(id) is outside the \(tokens.count) tokens")
            }
            return (content: tokens[Int(id)], id: id, special: true)
        }
        try self.init(vocabulary: vocabulary, merges: pairs, addedTokens: added, preTokenizer: preTokenizer, source: "GGUF tokenizer")
    }

    /// Loads a byte-level BPE `tokenizer.json`.
    ///
    /// Accepted: no normalizer; a `ByteLevel` pre-tokenizer without prefix space (``PreTokenizerKind/gpt2``)
    /// or `Sequence[Digits(individual_digits), ByteLevel]` (``PreTokenizerKind/smollm``);
    /// a `BPE` model without byte fallback, dropout or subword affixes; a `ByteLevel`
    /// or `TemplateProcessing` post-processor.
    ///
    /// - Throws: ``TokenizerError`` (`.unreadableFile`, `.malformedFile`,
    ///   `.unsupportedConfiguration` naming the component, `.invalidVocabulary`).
    public init(tokenizerJSON url: URL) throws {
        let file = try TokenizerJSON.load(url)
        let source = url.path
        let model = file.model
        guard model.type == "BPE" || (model.type == nil && model.merges != nil) else {
            throw TokenizerError(.unsupportedConfiguration, "\(source): model type \(model.type ?? "null") is not BPE")
        }
        guard let merges = model.merges else {
            throw TokenizerError(.malformedFile, "\(source): BPE model has no \"merges\"")
        }
        if let normalizer = file.normalizer {
            throw TokenizerError(.unsupportedConfiguration, "\(source): byte-level BPE with normalizer \(normalizer.type) is not supported")
        }
        if model.byteFallback == true || (model.dropout ?? 0) > 0
            || !(model.continuingSubwordPrefix ?? "").isEmpty || !(model.endOfWordSuffix ?? "").isEmpty
        {
            throw TokenizerError(.unsupportedConfiguration, "\(source): BPE byte_fallback, dropout and subword affixes are not supported")
        }
        let kind = try Self.preTokenizerKind(file.preTokenizer, source: source)
        var vocabulary = [String: Int32](minimumCapacity: model.vocab.count)
        for (token, id) in model.vocab { vocabulary[token] = Int32(clamping: id) }
        let added = (file.addedTokens ?? []).map { (content: $0.content, id: Int32(clamping: $0.id), special: $0.special) }
        let (prefix, suffix) = try Self.templateIDs(file.postProcessor, source: source)
        try self.init(
            vocabulary: vocabulary,
            merges: merges.map { ($0.left, $0.right) },
            addedTokens: added,
            preTokenizer: kind,
            prefixIDs: prefix,
            suffixIDs: suffix,
            source: source)
    }

    private static func preTokenizerKind(_ spec: TokenizerJSON.PreTokenizer?, source: String) throws -> PreTokenizerKind {
        func isPlainByteLevel(_ spec: TokenizerJSON.PreTokenizer) -> Bool {
            spec.type == "ByteLevel" && spec.addPrefixSpace != true && spec.useRegex != false
        }
        if let spec {
            if isPlainByteLevel(spec) { return .gpt2 }
            if spec.type == "Sequence", let parts = spec.pretokenizers, parts.count == 2,
                parts[0].type == "Digits", parts[0].individualDigits == true, isPlainByteLevel(parts[1])
            {
                return .smollm
            }
        }
        throw TokenizerError(.unsupportedConfiguration, "\(source): pre-tokenizer \(spec?.type ?? "null") is not a supported ByteLevel form")
    }

    /// Special ids a `TemplateProcessing` puts before and after the single sequence.
    private static func templateIDs(_ processor: TokenizerJSON.PostProcessor?, source: String) throws -> ([Int32], [Int32]) {
        guard let processor, processor.type != "ByteLevel" else { return ([], []) }
        guard processor.type == "TemplateProcessing", let single = processor.single else {
            throw TokenizerError(.unsupportedConfiguration, "\(source): post-processor \(processor.type) is not supported with BPE")
        }
        var prefix: [Int32] = []
        var suffix: [Int32] = []
        var seenSequence = false
        for piece in single {
            switch piece {
            case .sequence:
                seenSequence = true
            case .special(let name):
                guard let ids = processor.specialTokens?[name]?.ids else {
                    throw TokenizerError(.malformedFile, "\(source): post-processor names special token \(name) without ids")
                }
                let converted = ids.map { Int32(clamping: $0) }
                if seenSequence { suffix += converted } else { prefix += converted }
            }
        }
        return (prefix, suffix)
    }

    public func encode(_ text: String) -> [Int32] {
        var ids = prefixIDs
        forEachToken(in: text) { id, _ in ids.append(id) }
        ids += suffixIDs
        return ids
    }

    /// ``encode(_:)`` with the UTF-8 offset where each token starts in `text`, for mapping
    /// text spans such as assistant turns to tokens; post-processor tokens get -1.
    func encodeWithOffsets(_ text: String) -> (ids: [Int32], starts: [Int]) {
        var ids = prefixIDs
        var starts = [Int](repeating: -1, count: prefixIDs.count)
        forEachToken(in: text) { id, start in
            ids.append(id)
            starts.append(start)
        }
        ids += suffixIDs
        starts += [Int](repeating: -1, count: suffixIDs.count)
        return (ids, starts)
    }

    private func forEachToken(in text: String, _ emit: (Int32, Int) -> Void) {
        var text = text
        text.withUTF8 { bytes in
            var position = 0
            addedTokens.forEachSegment(
                in: bytes,
                text: { range in
                    position = range.lowerBound
                    preTokenizer.forEachWord(in: bytes, range: range) { word in
                        let key = UTF8Key(Array(UnsafeBufferPointer(rebasing: bytes[word])))
                        var start = word.lowerBound
                        for id in cache.ids(for: key, compute: bytePairs) {
                            emit(id, start)
                            start += bytesByID[Int(id)].count
                        }
                    }
                    position = range.upperBound
                },
                token: { id in
                    emit(id, position)
                    position += bytesByID[Int(id)].count
                })
        }
    }

    /// The merged ids of one pre-tokenized word.
    private func bytePairs(_ word: UTF8Key) -> [Int32] {
        var symbols: [Int32] = []
        symbols.reserveCapacity(word.bytes.count)
        for byte in word.bytes {
            let id = byteIDs[Int(byte)]
            if id >= 0 { symbols.append(id) }
        }
        while symbols.count > 1 {
            var best = Merge(rank: .max, id: -1)
            var bestIndex = -1
            for index in 0..<(symbols.count - 1) {
                if let merge = merges[Self.pairKey(symbols[index], symbols[index + 1])], merge.rank < best.rank {
                    best = merge
                    bestIndex = index
                }
            }
            guard bestIndex >= 0 else { break }
            symbols[bestIndex] = best.id
            symbols.remove(at: bestIndex + 1)
        }
        return symbols
    }

    @inline(__always)
    private static func pairKey(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    public func decode(_ ids: [Int32], skippingSpecialTokens: Bool) -> String {
        var bytes: [UInt8] = []
        for id in ids where id >= 0 && Int(id) < bytesByID.count {
            if skippingSpecialTokens && specialIDs.contains(id) { continue }
            bytes += bytesByID[Int(id)]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
