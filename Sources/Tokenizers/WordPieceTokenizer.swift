// SPDX-License-Identifier: Apache-2.0
import Foundation

/// BERT's uncased WordPiece tokenizer, id-for-id with Hugging Face `tokenizers`.
///
/// Text is split on the special tokens first (`[CLS]` typed in the text is the `[CLS]` id),
/// then normalized and split into words by ``BertNormalizer``, and each word becomes the
/// greedy longest-match-first sequence of vocabulary pieces, continuation pieces carrying
/// the `##` prefix. A word with a part that matches nothing, or longer than
/// `maxInputCharsPerWord` scalars, becomes a single `[UNK]`.
public struct WordPieceTokenizer: Tokenizer {
    private let vocabulary: [UTF8Key: Int32]
    private let continuingPrefix: [UInt8]
    private let tokensByID: [String?]
    private let unknownID: Int32
    private let classifierID: Int32
    private let separatorID: Int32
    private let paddingID: Int32
    private let maxInputCharsPerWord: Int
    private let normalizer: BertNormalizer
    private let addedTokens: AddedTokenMatcher
    private let specialIDs: Set<Int32>
    private let cache = WordCache()

    public let specialTokenIDs: [String: Int32]
    public var vocabularySize: Int { tokensByID.count }

    /// The `[PAD]` id that ``encode(_:pair:maxLength:paddingTo:)`` pads with.
    public var paddingTokenID: Int32 { paddingID }

    private init(
        vocabulary: [UTF8Key: Int32],
        normalizer: BertNormalizer,
        addedTokens: [(content: String, id: Int32, special: Bool)],
        unknownToken: String,
        classifierToken: String,
        separatorToken: String,
        continuingPrefix: String,
        maxInputCharsPerWord: Int,
        source: String
    ) throws {
        func id(_ token: String, _ role: String) throws -> Int32 {
            guard let id = vocabulary[UTF8Key(token)] else {
                throw TokenizerError(.invalidVocabulary, "\(source): the \(role) token \"\(token)\" is not in the vocabulary")
            }
            return id
        }
        var tokensByID = [String?](repeating: nil, count: vocabulary.count)
        for (token, id) in vocabulary {
            let text = String(decoding: token.bytes, as: UTF8.self)
            guard id >= 0, Int(id) < vocabulary.count else {
                throw TokenizerError(.invalidVocabulary, "\(source): token \"\(text)\" has id \(id), outside 0..<\(vocabulary.count)")
            }
            tokensByID[Int(id)] = text
        }
        self.vocabulary = vocabulary
        self.tokensByID = tokensByID
        self.normalizer = normalizer
        self.unknownID = try id(unknownToken, "unknown")
        self.classifierID = try id(classifierToken, "classifier")
        self.separatorID = try id(separatorToken, "separator")
        self.paddingID = vocabulary[UTF8Key("[PAD]")] ?? 0
        self.continuingPrefix = Array(continuingPrefix.utf8)
        self.maxInputCharsPerWord = maxInputCharsPerWord
        self.addedTokens = AddedTokenMatcher(tokens: addedTokens.map { ($0.content, $0.id) })
        let specials = addedTokens.filter(\.special)
        self.specialIDs = Set(specials.map(\.id))
        self.specialTokenIDs = Dictionary(specials.map { ($0.content, $0.id) }, uniquingKeysWith: { first, _ in first })
    }

    /// Loads a WordPiece `tokenizer.json` (BertNormalizer, BertPreTokenizer, WordPiece,
    /// a `[CLS] A [SEP]` post-processor).
    ///
    /// The file's own truncation and padding settings are not applied: callers choose
    /// them per call, as the reference test vectors do.
    ///
    /// - Throws: ``TokenizerError`` (`.unreadableFile`, `.malformedFile`,
    ///   `.unsupportedConfiguration` naming the component, `.invalidVocabulary`).
    public init(tokenizerJSON url: URL) throws {
        let file = try TokenizerJSON.load(url)
        let source = url.path
        guard file.model.type == "WordPiece" else {
            throw TokenizerError(.unsupportedConfiguration, "\(source): model type \(file.model.type ?? "null") is not WordPiece")
        }
        var normalizer = BertNormalizer()
        if let spec = file.normalizer {
            guard spec.type == "BertNormalizer" else {
                throw TokenizerError(.unsupportedConfiguration, "\(source): normalizer \(spec.type) is not BertNormalizer")
            }
            normalizer.cleanText = spec.cleanText ?? true
            normalizer.handleChineseChars = spec.handleChineseChars ?? true
            normalizer.lowercase = spec.lowercase ?? true
            normalizer.stripAccents = spec.stripAccents ?? normalizer.lowercase
        } else {
            normalizer = BertNormalizer(cleanText: false, handleChineseChars: false, stripAccents: false, lowercase: false)
        }
        if let preTokenizer = file.preTokenizer, preTokenizer.type != "BertPreTokenizer" {
            throw TokenizerError(.unsupportedConfiguration, "\(source): pre-tokenizer \(preTokenizer.type) is not BertPreTokenizer")
        }
        let (classifier, separator) = try Self.classifierAndSeparator(file.postProcessor, source: source)
        var vocabulary = [UTF8Key: Int32](minimumCapacity: file.model.vocab.count)
        for (token, id) in file.model.vocab { vocabulary[UTF8Key(token)] = Int32(clamping: id) }
        let added = (file.addedTokens ?? []).map { (content: $0.content, id: Int32(clamping: $0.id), special: $0.special) }
        try self.init(
            vocabulary: vocabulary,
            normalizer: normalizer,
            addedTokens: added,
            unknownToken: file.model.unkToken ?? "[UNK]",
            classifierToken: classifier,
            separatorToken: separator,
            continuingPrefix: file.model.continuingSubwordPrefix ?? "##",
            maxInputCharsPerWord: file.model.maxInputCharsPerWord ?? 100,
            source: source)
    }

    /// Loads a BERT `vocab.txt` (one token per line, id = line number) with the standard
    /// BERT special tokens, as `BertTokenizer` does.
    ///
    /// - Parameters:
    ///   - vocabularyFile: the `vocab.txt`.
    ///   - lowercase: `do_lower_case`; accents are stripped exactly when lowercasing.
    /// - Throws: ``TokenizerError`` `.unreadableFile`, or `.invalidVocabulary` if a BERT
    ///   special token is missing.
    public init(vocabularyFile url: URL, lowercase: Bool = true) throws {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw TokenizerError(.unreadableFile, "cannot read \(url.path): \(error.localizedDescription)")
        }
        var vocabulary: [UTF8Key: Int32] = [:]
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        for (index, line) in lines.enumerated() {
            let token = UTF8Key(Array(line.utf8.last == UInt8(ascii: "\r") ? line.utf8.dropLast() : line.utf8[...]))
            if vocabulary[token] == nil { vocabulary[token] = Int32(index) }
        }
        let specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"].compactMap { token in
            vocabulary[UTF8Key(token)].map { (content: token, id: $0, special: true) }
        }
        try self.init(
            vocabulary: vocabulary,
            normalizer: BertNormalizer(stripAccents: lowercase, lowercase: lowercase),
            addedTokens: specials,
            unknownToken: "[UNK]",
            classifierToken: "[CLS]",
            separatorToken: "[SEP]",
            continuingPrefix: "##",
            maxInputCharsPerWord: 100,
            source: url.path)
    }

    /// The `[CLS]`-like and `[SEP]`-like tokens of a BERT-shaped post-processor.
    private static func classifierAndSeparator(
        _ processor: TokenizerJSON.PostProcessor?, source: String
    ) throws -> (String, String) {
        guard let processor else { return ("[CLS]", "[SEP]") }
        switch processor.type {
        case "BertProcessing":
            if let cls = processor.cls, let sep = processor.sep { return (cls.content, sep.content) }
        case "TemplateProcessing":
            if let single = processor.single, single.count == 3,
                case .special(let cls) = single[0], case .sequence = single[1], case .special(let sep) = single[2]
            {
                return (cls, sep)
            }
        default:
            break
        }
        throw TokenizerError(.unsupportedConfiguration, "\(source): post-processor \(processor.type) is not of the form [CLS] A [SEP]")
    }

    public func encode(_ text: String) -> [Int32] {
        [classifierID] + contentIDs(text) + [separatorID]
    }

    /// Encodes one text or a pair as `[CLS] a [SEP]` or `[CLS] a [SEP] b [SEP]`.
    ///
    /// - Parameters:
    ///   - text: the first sequence (type id 0).
    ///   - pair: the optional second sequence (type id 1, its `[SEP]` too).
    ///   - maxLength: truncate to this many ids including special tokens; pairs are cut
    ///     longest-first as Hugging Face does (``BertEncoding/longestFirstLengths(_:_:budget:)``).
    ///     Must leave room for the special tokens (3 for a pair, 2 otherwise).
    ///   - paddingTo: pad with `[PAD]` (type 0, mask 0) up to this length; longer
    ///     encodings are left as they are.
    public func encode(_ text: String, pair: String? = nil, maxLength: Int? = nil, paddingTo: Int? = nil) -> BertEncoding {
        var first = contentIDs(text)
        var second = pair.map(contentIDs)
        let specialCount = second == nil ? 2 : 3
        if let maxLength {
            precondition(maxLength >= specialCount, "maxLength \(maxLength) leaves no room for \(specialCount) special tokens")
            let budget = maxLength - specialCount
            if var kept = second {
                let (n1, n2) = BertEncoding.longestFirstLengths(first.count, kept.count, budget: budget)
                first.removeLast(first.count - min(n1, first.count))
                kept.removeLast(kept.count - min(n2, kept.count))
                second = kept
            } else if first.count > budget {
                first.removeLast(first.count - budget)
            }
        }
        var ids = [classifierID] + first + [separatorID]
        var types = [Int32](repeating: 0, count: ids.count)
        if let second {
            ids += second + [separatorID]
            types += [Int32](repeating: 1, count: second.count + 1)
        }
        var mask = [Int32](repeating: 1, count: ids.count)
        if let paddingTo, paddingTo > ids.count {
            let extra = paddingTo - ids.count
            ids += [Int32](repeating: paddingID, count: extra)
            types += [Int32](repeating: 0, count: extra)
            mask += [Int32](repeating: 0, count: extra)
        }
        return BertEncoding(ids: ids, tokenTypeIDs: types, attentionMask: mask)
    }

    /// Word pieces of `text` without `[CLS]`/`[SEP]`.
    private func contentIDs(_ text: String) -> [Int32] {
        var text = text
        return text.withUTF8 { bytes in
            var ids: [Int32] = []
            ids.reserveCapacity(bytes.count / 4 + 4)
            addedTokens.forEachSegment(
                in: bytes,
                text: { range in
                    normalizer.forEachWord(in: bytes, range: range) { word in
                        ids.append(contentsOf: cache.ids(for: UTF8Key(word), compute: wordPieces))
                    }
                },
                token: { ids.append($0) })
            return ids
        }
    }

    /// Greedy longest-match-first pieces of one normalized word.
    private func wordPieces(_ word: UTF8Key) -> [Int32] {
        let bytes = word.bytes
        // Scalar boundaries: pieces never split a scalar, and the length limit counts scalars.
        var boundaries = bytes.indices.filter { bytes[$0] & 0xC0 != 0x80 }
        guard boundaries.count <= maxInputCharsPerWord else { return [unknownID] }
        boundaries.append(bytes.count)
        var pieces: [Int32] = []
        var start = 0
        var candidate: [UInt8] = []
        while start < boundaries.count - 1 {
            var end = boundaries.count - 1
            var match: Int32?
            while start < end {
                candidate.removeAll(keepingCapacity: true)
                if start > 0 { candidate += continuingPrefix }
                candidate += bytes[boundaries[start]..<boundaries[end]]
                if let id = vocabulary[UTF8Key(candidate)] {
                    match = id
                    break
                }
                end -= 1
            }
            guard let match else { return [unknownID] }
            pieces.append(match)
            start = end
        }
        return pieces
    }

    /// Joins pieces as the Hugging Face WordPiece decoder does (with its cleanup of
    /// spaces before punctuation and contractions).
    public func decode(_ ids: [Int32], skippingSpecialTokens: Bool) -> String {
        var output = ""
        var isFirst = true
        for id in ids {
            guard id >= 0, Int(id) < tokensByID.count, let token = tokensByID[Int(id)] else { continue }
            if skippingSpecialTokens && specialIDs.contains(id) { continue }
            var piece: String
            if isFirst {
                piece = token
            } else if token.utf8.starts(with: continuingPrefix) {
                piece = String(decoding: token.utf8.dropFirst(continuingPrefix.count), as: UTF8.self)
            } else {
                piece = " " + token
            }
            isFirst = false
            for (dirty, clean) in Self.cleanups { piece = piece.replacingOccurrences(of: dirty, with: clean) }
            output += piece
        }
        return output
    }

    private static let cleanups = [
        (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"),
        (" 'm", "'m"), (" do not", " don't"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re"),
    ]
}
