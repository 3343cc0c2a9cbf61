/// The tokenizer of a GGUF model, encoding as llama.cpp does: byte-level BPE (`gpt2`) or
/// SentencePiece-style (`llama`).
///
/// Special tokens are split out of the text first, longest first: user-defined ones always,
/// control ones (`<|im_start|>`, …) when `parseSpecial` is true. For BPE, everything else is
/// split by the model's pre-tokenizer, mapped to GPT-2's byte alphabet and merged by rank; for
/// SentencePiece, spaces become "▁" and pieces merge by score (`SentencePieceModel`).
/// Decoding is byte-exact.
public struct Tokenizer: Sendable {
    /// GGUF token types (`tokenizer.ggml.token_type`).
    public enum TokenType: Int32, Sendable {
        case normal = 1
        case unknown = 2
        case control = 3
        case userDefined = 4
        case unused = 5
        case byte = 6
    }

    public let tokens: [String]
    public let types: [TokenType]
    /// The BPE pre-tokenizer; nil for SentencePiece.
    public let preTokenizer: PreTokenizer?
    private let sentencePiece: SentencePieceModel?
    public let bosToken: Int?
    public let eosToken: Int?
    public let addBOS: Bool
    /// Whether the model's text ends with EOS (`tokenizer.ggml.add_eos_token`; embedding models).
    public let addEOS: Bool
    /// Token ids by their text's bytes (the first id of a repeated text). Bytes, not `String`:
    /// distinct tokens may be canonically equivalent strings (Gemma 4 has hundreds).
    private let ids: [[UInt8]: Int32]
    /// (left id << 32 | right id) → (rank, merged id).
    private let merges: [UInt64: (rank: Int32, id: Int32)]
    /// Id of each byte's token: its GPT-2 alphabet character, or `<0xXX>` (-1: none).
    private let byteTokens: [Int32]
    /// Whether BPE starts from UTF-8 characters looked up in `ids` (Gemma 4) rather than from
    /// the bytes' GPT-2 alphabet tokens.
    private let mergesCharacters: Bool
    /// Special tokens, longest first (ties by id), as llama.cpp splits them out of a text;
    /// control ones only when special tokens are parsed.
    private let specials: [(bytes: [UInt8], id: Int32, control: Bool)]
    /// Decoded bytes of every token.
    private let tokenBytes: [[UInt8]]

    public var vocabularySize: Int { tokens.count }

    /// Builds the tokenizer from a GGUF file's `tokenizer.ggml.*` metadata.
    public init(gguf: GGUFFile) throws(ModelError) {
        let meta = gguf.metadata
        let (model, tokens, types) = try ModelError.catching {
            let model = try gguf.string("tokenizer.ggml.model")
            guard ["gpt2", "llama", "gemma4"].contains(model) else { throw ModelError.unsupportedTokenizer(model) }
            let tokens = try gguf.array("tokenizer.ggml.tokens").map { $0.string ?? "" }
            let rawTypes = meta["tokenizer.ggml.token_type"]?.array?.map { Int32($0.integer ?? 1) } ?? []
            return (model, tokens, rawTypes.map { TokenType(rawValue: $0) ?? .normal })
        }
        let bos = meta["tokenizer.ggml.bos_token_id"]?.integer
        let eos = meta["tokenizer.ggml.eos_token_id"]?.integer
        let addEOS = meta["tokenizer.ggml.add_eos_token"]?.bool ?? false
        if model == "llama" {
            try self.init(
                sentencePiece: tokens, types: types, scores: meta["tokenizer.ggml.scores"]?.array?.map { Float($0.double ?? 0) } ?? [],
                bosToken: bos ?? 1, eosToken: eos ?? 2, addBOS: meta["tokenizer.ggml.add_bos_token"]?.bool ?? true, addEOS: addEOS,
                addsSpacePrefix: meta["tokenizer.ggml.add_space_prefix"]?.bool ?? true)
            return
        }
        let (merges, pre) = try ModelError.catching {
            let merges = try gguf.array("tokenizer.ggml.merges").map { $0.string ?? "" }
            // As llama.cpp: no `tokenizer.ggml.pre` (or an empty one) is its `default`; Gemma 4 has its own.
            let preName = model == "gemma4" ? "gemma4" : meta["tokenizer.ggml.pre"]?.string.flatMap { $0.isEmpty ? nil : $0 } ?? "default"
            guard let pre = PreTokenizer(ggmlName: preName) else {
                throw ModelError.unknownPreTokenizer(preName, known: PreTokenizer.knownNames)
            }
            return (merges, pre)
        }
        // llama.cpp adds BOS for Gemma 4 whatever its file says.
        let addBOS = (meta["tokenizer.ggml.add_bos_token"]?.bool ?? pre.addsBOS) || model == "gemma4"
        try self.init(
            tokens: tokens, types: types, merges: merges, preTokenizer: pre, bosToken: bos, eosToken: eos, addBOS: addBOS, addEOS: addEOS)
    }

    /// Builds a SentencePiece-style tokenizer from its parts (`scores`: one per token, or empty).
    public init(
        sentencePiece tokens: [String], types: [TokenType], scores: [Float], bosToken: Int? = nil, eosToken: Int? = nil,
        addBOS: Bool = true, addEOS: Bool = false, addsSpacePrefix: Bool = true
    ) throws(ModelError) {
        let types = types.isEmpty ? Array(repeating: .normal, count: tokens.count) : types
        let tokenBytes = zip(tokens, types).map(Self.spaceEscapedBytes)
        let ids = Self.ids(of: tokens)
        try self.init(
            tokens: tokens, types: types, preTokenizer: nil,
            sentencePiece: SentencePieceModel(pieces: ids, scores: scores, addsSpacePrefix: addsSpacePrefix), merges: [:],
            byteTokens: [], mergesCharacters: false, tokenBytes: tokenBytes, bosToken: bosToken, eosToken: eosToken,
            addBOS: addBOS, addEOS: addEOS, ids: ids)
    }

    /// What a token of a vocabulary that writes spaces as "▁" decodes to: "▁" is a space,
    /// `<0xXX>` its byte, control tokens their text.
    private static func spaceEscapedBytes(_ token: String, _ type: TokenType) -> [UInt8] {
        if type == .byte, token.utf8.count == 6, let b = UInt8(token.dropFirst(3).prefix(2), radix: 16) { return [b] }
        if type == .control || type == .unknown { return Array(token.utf8) }
        var out: [UInt8] = []
        let utf8 = Array(token.utf8)
        var i = 0
        while i < utf8.count {
            if utf8[i...].starts(with: SentencePieceModel.space) {
                out.append(0x20)
                i += 3
            } else {
                out.append(utf8[i])
                i += 1
            }
        }
        return out
    }

    /// Builds a BPE tokenizer from its parts. `types` may be empty (all normal).
    public init(
        tokens: [String], types: [TokenType], merges: [String], preTokenizer: PreTokenizer,
        bosToken: Int? = nil, eosToken: Int? = nil, addBOS: Bool = false, addEOS: Bool = false
    ) throws(ModelError) {
        let byBytes = Self.ids(of: tokens)
        var mergeTable: [UInt64: (rank: Int32, id: Int32)] = [:]
        for (rank, merge) in merges.enumerated() {
            // As llama.cpp: the parts split at the first space after the first byte.
            let bytes = Array(merge.utf8)
            guard let space = bytes.dropFirst().firstIndex(of: 0x20), let a = byBytes[Array(bytes[..<space])],
                let b = byBytes[Array(bytes[(space + 1)...])], let ab = byBytes[Array(bytes[..<space] + bytes[(space + 1)...])]
            else { continue }
            let key = UInt64(UInt32(a)) << 32 | UInt64(UInt32(b))
            if mergeTable[key] == nil { mergeTable[key] = (Int32(rank), ab) }
        }
        // Each byte's token: its GPT-2 alphabet character, or `<0xXX>` where pieces are not byte-encoded.
        let byteTokens = (0..<256).map { b in
            let text = preTokenizer.byteEncoded ? String(Character(ByteLevel.character[b])) : TokenBytes.fallbackText(UInt8(b))
            return byBytes[Array(text.utf8)] ?? -1
        }
        let types = types.isEmpty ? Array(repeating: TokenType.normal, count: tokens.count) : types
        // Byte-level characters map back to bytes; anything else (and special tokens) is taken as text.
        let tokenBytes = zip(tokens, types).map { t, type -> [UInt8] in
            if !preTokenizer.byteEncoded { return Self.spaceEscapedBytes(t, type) }
            if type == .control || type == .userDefined { return Array(t.utf8) }
            var bytes: [UInt8] = []
            for scalar in t.unicodeScalars {
                if let b = ByteLevel.byte[scalar.value] { bytes.append(b) } else { bytes.append(contentsOf: String(scalar).utf8) }
            }
            return bytes
        }
        try self.init(
            tokens: tokens, types: types, preTokenizer: preTokenizer, sentencePiece: nil, merges: mergeTable,
            byteTokens: byteTokens, mergesCharacters: !preTokenizer.byteEncoded, tokenBytes: tokenBytes, bosToken: bosToken,
            eosToken: eosToken, addBOS: addBOS, addEOS: addEOS, ids: byBytes)
    }

    private init(
        tokens: [String], types: [TokenType], preTokenizer: PreTokenizer?, sentencePiece: SentencePieceModel?,
        merges: [UInt64: (rank: Int32, id: Int32)], byteTokens: [Int32], mergesCharacters: Bool, tokenBytes: [[UInt8]],
        bosToken: Int?, eosToken: Int?, addBOS: Bool, addEOS: Bool, ids: [[UInt8]: Int32]
    ) throws(ModelError) {
        guard !tokens.isEmpty else { throw .invalidTokenizer("the vocabulary is empty") }
        guard types.count == tokens.count else { throw .invalidTokenizer("\(tokens.count) tokens but \(types.count) token types") }
        for (name, id) in [("bos", bosToken), ("eos", eosToken)] {
            if let id, id < 0 || id >= tokens.count {
                throw .invalidTokenizer("\(name) token id \(id) is outside the vocabulary of \(tokens.count)")
            }
        }
        self.tokens = tokens
        self.types = types
        self.preTokenizer = preTokenizer
        self.sentencePiece = sentencePiece
        self.merges = merges
        self.byteTokens = byteTokens
        self.mergesCharacters = mergesCharacters
        self.tokenBytes = tokenBytes
        self.bosToken = bosToken
        self.eosToken = eosToken
        self.addBOS = addBOS
        self.addEOS = addEOS
        self.ids = ids
        var specials: [(bytes: [UInt8], id: Int32, control: Bool)] = []
        for (i, t) in tokens.enumerated() where !t.isEmpty {
            let type = types[i]
            // llama.cpp treats end-of-generation and fill-in-the-middle tokens as control,
            // whatever the file calls them.
            let control = type == .control || type == .unknown || Self.controlByName.contains(t)
            if type == .userDefined || control { specials.append((Array(t.utf8), Int32(i), control)) }
        }
        specials.sort { ($0.bytes.count, -$0.id) > ($1.bytes.count, -$1.id) }
        self.specials = specials
    }

    /// The id of a token given by its exact vocabulary text.
    public func id(of token: String) -> Int? { ids[Array(token.utf8)].map(Int.init) }

    /// Each token text's bytes → its id (the first, for a text the vocabulary repeats).
    private static func ids(of tokens: [String]) -> [[UInt8]: Int32] {
        var ids: [[UInt8]: Int32] = [:]
        ids.reserveCapacity(tokens.count)
        for (i, t) in tokens.enumerated() where ids[Array(t.utf8)] == nil { ids[Array(t.utf8)] = Int32(i) }
        return ids
    }

    /// Tokens that end a turn for this vocabulary: end-of-sequence and the end-of-turn
    /// control tokens of the known chat formats. Generation stops at them by default.
    public var endOfTurnTokens: Set<Int> {
        var stops = Set(["<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|endoftext|>"].compactMap { id(of: $0) })
        if let eosToken { stops.insert(eosToken) }
        return stops
    }

    /// True for control tokens (`<|im_end|>`, `<|endoftext|>`).
    public func isControl(_ id: Int) -> Bool { id >= 0 && id < types.count && types[id] == .control }

    // MARK: - Encoding

    /// Names llama.cpp marks as control tokens (end of generation, fill-in-the-middle) in any vocabulary.
    static let controlByName: Set<String> = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
        "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>",
        "<eos>", "<turn|>", "<|tool_response>", "<\u{FF5C}end\u{2581}of\u{2581}sentence\u{FF5C}>", "[e~[",
        "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<\u{FF5C}fim\u{2581}begin\u{FF5C}>", "<PRE>", "\u{2581}<PRE>",
        "<|code_prefix|>", "<|prefix|>", "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<\u{FF5C}fim\u{2581}hole\u{FF5C}>",
        "<SUF>", "\u{2581}<SUF>", "<|code_suffix|>", "<|suffix|>", "<|fim_middle|>", "<fim-middle>", "<fim_middle>",
        "<\u{FF5C}fim\u{2581}end\u{FF5C}>", "<MID>", "\u{2581}<MID>", "<|code_middle|>", "<|middle|>", "<|fim_pad|>", "<fim-pad>",
        "<fim_pad>", "<PAD>", "[PAD]", "<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>", "<|file_sep|>",
    ]

    /// Token ids of `text`. User-defined tokens written in the text become their ids; with
    /// `parseSpecial`, control tokens do too (without it they are encoded as plain text).
    public func encode(_ text: String, parseSpecial: Bool = true, addBOS: Bool? = nil) -> [Int] {
        var out: [Int] = []
        if addBOS ?? self.addBOS, let bos = bosToken { out.append(bos) }
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return out }
        // Each special token splits every text fragment left before the next one is tried,
        // as llama.cpp does: a longer token wins over a shorter one that starts earlier.
        enum Fragment {
            case text(Range<Int>)
            case token(Int32)
        }
        var fragments = [Fragment.text(0..<bytes.count)]
        var present = [Bool](repeating: false, count: 256)
        for b in bytes { present[Int(b)] = true }
        for special in specials where (parseSpecial || !special.control) && present[Int(special.bytes[0])] {
            var next: [Fragment] = []
            for fragment in fragments {
                guard case .text(let range) = fragment else {
                    next.append(fragment)
                    continue
                }
                var from = range.lowerBound
                while let at = Self.find(special.bytes, in: bytes, from: from, to: range.upperBound) {
                    if at > from { next.append(.text(from..<at)) }
                    next.append(.token(special.id))
                    from = at + special.bytes.count
                }
                if from < range.upperBound { next.append(.text(from..<range.upperBound)) }
            }
            fragments = next
        }
        var afterSpecial = true
        for fragment in fragments {
            switch fragment {
            case .text(let range):
                if let sentencePiece {
                    sentencePiece.encode(bytes[range], afterSpecial: afterSpecial, into: &out)
                } else if let preTokenizer {
                    if preTokenizer.escapesSpaces {
                        let escaped = bytes[range].flatMap { $0 == 0x20 ? SentencePieceModel.space : [$0] }
                        encodeOrdinary(escaped[...], preTokenizer, into: &out)
                    } else {
                        encodeOrdinary(bytes[range], preTokenizer, into: &out)
                    }
                }
                afterSpecial = false
            case .token(let id):
                out.append(Int(id))
                afterSpecial = true
            }
        }
        return out
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int, to end: Int) -> Int? {
        guard needle.count <= end - from else { return nil }
        var i = from
        while i <= end - needle.count {
            if haystack[i] == needle[0], haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }

    private func encodeOrdinary(_ bytes: ArraySlice<UInt8>, _ preTokenizer: PreTokenizer, into out: inout [Int]) {
        // A fragment may cut a multi-byte character only where a special token's bytes did;
        // llama.cpp decodes such bytes as U+FFFD, and so does this.
        let text = String(decoding: bytes, as: UTF8.self)
        for piece in preTokenizer.split(Substring(text)) {
            let pieceBytes = Array(piece.utf8)
            if preTokenizer.ignoresMerges,
                let whole = ids[Array(String(String.UnicodeScalarView(pieceBytes.map { ByteLevel.character[Int($0)] })).utf8)]
            {
                out.append(Int(whole))
                continue
            }
            bpe(pieceBytes, into: &out)
        }
    }

    private func bpe(_ word: [UInt8], into out: inout [Int]) {
        // Symbols: one per byte (byte-encoded) or per UTF-8 character; -1 for a character that
        // is no token, which can merge with nothing and falls back to its bytes' tokens.
        var symbols: [Int32] = []
        var spans: [Range<Int>] = []
        if !mergesCharacters {
            symbols = word.map { byteTokens[Int($0)] }
            spans = word.indices.map { $0..<($0 + 1) }
        } else {
            // Gemma 4 takes a run of newlines that is a token whole.
            if word.allSatisfy({ $0 == 0x0A }), let whole = ids[word] {
                out.append(Int(whole))
                return
            }
            var i = 0
            while i < word.count {
                let n = min(TokenBytes.characterLength(lead: word[i]), word.count - i)
                symbols.append(ids[Array(word[i..<(i + n)])] ?? -1)
                spans.append(i..<(i + n))
                i += n
            }
        }
        while symbols.count > 1 {
            var best = Int32.max
            var bestAt = -1
            var bestId: Int32 = 0
            for j in 0..<(symbols.count - 1) where symbols[j] >= 0 && symbols[j + 1] >= 0 {
                let key = UInt64(UInt32(symbols[j])) << 32 | UInt64(UInt32(symbols[j + 1]))
                if let m = merges[key], m.rank < best {
                    best = m.rank
                    bestAt = j
                    bestId = m.id
                }
            }
            if bestAt < 0 { break }
            symbols[bestAt] = bestId
            spans[bestAt] = spans[bestAt].lowerBound..<spans[bestAt + 1].upperBound
            symbols.remove(at: bestAt + 1)
            spans.remove(at: bestAt + 1)
        }
        for (id, span) in zip(symbols, spans) {
            if id >= 0 {
                out.append(Int(id))
            } else {
                // As llama.cpp: a byte with no token of its own is dropped.
                for b in word[span] where byteTokens[Int(b)] >= 0 { out.append(Int(byteTokens[Int(b)])) }
            }
        }
    }

    // MARK: - Decoding

    /// The bytes a token stands for (control tokens as their text).
    public func bytes(of id: Int) -> [UInt8] {
        guard id >= 0 && id < tokenBytes.count else { return [] }
        return tokenBytes[id]
    }

    /// Text of `ids`; invalid UTF-8 (a cut multi-byte character) becomes U+FFFD. The space a
    /// SentencePiece vocabulary puts before the text is not part of it.
    public func decode(_ ids: [Int]) -> String {
        var text = ids.flatMap { bytes(of: $0) }
        if sentencePiece?.addsSpacePrefix == true, let first = ids.first, !isControl(first), text.first == 0x20 { text.removeFirst() }
        return String(decoding: text, as: UTF8.self)
    }
}
