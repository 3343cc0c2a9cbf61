/// Splits text into the pieces that BPE then encodes one by one, as the model's
/// `tokenizer.ggml.pre` declares and exactly as llama.cpp splits them: each of the type's
/// patterns refines the pieces of the one before, and text between two matches is a piece of
/// its own. The commonest patterns run as hand-written code (`CustomSplitters`); the others
/// through `SplitRegex`, with Unicode categories decided by llama.cpp's tables.
public struct PreTokenizer: Sendable, Equatable {
    /// The `tokenizer.ggml.pre` name it was made from.
    public let name: String
    /// A word that is a token as a whole is taken whole, before any merge (Llama 3).
    public let ignoresMerges: Bool
    /// Whether BOS is added when the model file does not say.
    public let addsBOS: Bool
    /// Whether pieces are mapped to GPT-2's byte alphabet before merging; Gemma 4's are not:
    /// its spaces become "▁" first (`escapesSpaces`) and unknown characters fall back to
    /// `<0xXX>` tokens.
    public let byteEncoded: Bool
    public var escapesSpaces: Bool { !byteEncoded }
    private let rules: [Rule]

    private enum Rule: Sendable {
        case gpt2
        case llama3(CustomSplitters.Variant)
        case newlines
        /// A pattern, and whether it runs on the text with categories collapsed (it used `\p{…}`).
        case regex(SplitRegex, collapsed: Bool)
    }

    /// Maps a `tokenizer.ggml.pre` value; nil for a pre-tokenizer Colony does not know.
    /// A missing value is llama.cpp's `default`.
    public init?(ggmlName: String) {
        guard let entry = Self.names[ggmlName], let patterns = Self.patterns[entry.type] else { return nil }
        // Every catalog pattern parses (a test checks it), so `try?` drops nothing.
        guard let rules = try? patterns.map(Self.rule) else { return nil }
        self.name = ggmlName
        self.rules = rules
        ignoresMerges = entry.ignoreMerges
        addsBOS = entry.addsBOS
        byteEncoded = entry.type != "GEMMA4"
    }

    public static func == (a: PreTokenizer, b: PreTokenizer) -> Bool { a.name == b.name }

    /// GPT-2's own.
    public static let gpt2 = PreTokenizer(ggmlName: "gpt-2")!

    /// The names `init(ggmlName:)` accepts, sorted.
    public static let knownNames = names.keys.filter { PreTokenizer(ggmlName: $0) != nil }.sorted()

    private static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"#
    private static let llama3Patterns = [
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#,
        #"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#,
    ]
    private static let qwen2Pattern =
        #"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    private static let qwen35Pattern =
        #"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// llama.cpp's fast path for a pattern it knows by its exact text, else the pattern itself.
    private static func rule(_ pattern: String) throws(ModelError) -> Rule {
        if pattern == gpt2Pattern { return .gpt2 }
        if llama3Patterns.contains(pattern) { return .llama3(.llama3) }
        if pattern == qwen2Pattern { return .llama3(.qwen2) }
        if pattern == qwen35Pattern { return .llama3(.qwen35) }
        if pattern == "[^\\n]+|[\\n]+" { return .newlines }
        let collapsed = categories.keys.contains { pattern.contains("\\p{\($0)}") }
        return .regex(try SplitRegex(collapsed ? collapse(pattern) : pattern), collapsed: collapsed)
    }

    /// What llama.cpp gives std::regex for `\p{…}` on collapsed text: the category's stand-in
    /// codepoint (which non-ASCII codepoints of the category become) and the ASCII members.
    private static let categories: [String: (standIn: UInt32, ascii: String)] = {
        let letter: (UInt32, String) = (0xD2, "A-Za-z")
        return [
            "N": (0xD1, "0-9"), "L": letter, "Lu": letter, "Ll": letter, "Lt": letter, "Lm": letter, "Lo": letter,
            "P": (0xD3, #"!-#%-*,-/:-;?-@\[-\]_\{\}"#), "M": (0xD4, ""), "S": (0xD5, #"\$\+<->\^`\|\~"#),
        ]
    }()

    private static func standIn(for c: UInt32) -> UInt32 {
        if c < 0x80 { return c }
        if CodepointClass.isWhitespace(c) { return 0x0B }
        switch CodepointClass.category(c) {
        case CodepointClass.number: return 0xD1
        case CodepointClass.letter: return 0xD2
        case CodepointClass.punctuation: return 0xD3
        case CodepointClass.mark: return 0xD4
        case CodepointClass.symbol: return 0xD5
        default: return 0xD0
        }
    }

    /// Rewrites each `\p{X}` as a class of its stand-in and ASCII members (inside a class, as members).
    private static func collapse(_ pattern: String) -> String {
        var out = ""
        var inside = false
        var previous: Character?
        var rest = Substring(pattern)
        while let c = rest.first {
            if c == "[", previous != "\\" { inside = true }
            if c == "]", inside, previous != "\\" { inside = false }
            if c == "\\", rest.dropFirst().first == "p", let close = rest.firstIndex(of: "}"),
                let (standIn, ascii) = categories[String(rest[rest.index(rest.startIndex, offsetBy: 3)..<close])]
            {
                let members = String(Character(Unicode.Scalar(standIn)!)) + ascii
                out += inside ? members : "[" + members + "]"
                rest = rest[rest.index(after: close)...]
                previous = "}"
                continue
            }
            out.append(c)
            previous = c
            rest = rest.dropFirst()
        }
        return out
    }

    /// The pieces of `text`, in order; their concatenation is `text`.
    public func split(_ text: Substring) -> [Substring] {
        let scalars = text.unicodeScalars
        let cpts = scalars.map(\.value)
        var offsets = [cpts.count]
        var collapsedText: [UInt32]?
        var plainText: [UInt32]?
        for rule in rules {
            var next: [Int] = []
            var start = 0
            for length in offsets {
                let end = start + length
                switch rule {
                case .gpt2: CustomSplitters.gpt2(cpts, start, end, into: &next)
                case .llama3(let variant): CustomSplitters.llama3(variant, cpts, start, end, into: &next)
                case .newlines: CustomSplitters.newlines(cpts, start, end, into: &next)
                case .regex(let regex, let collapsed):
                    let t: [UInt32]
                    if collapsed {
                        if collapsedText == nil { collapsedText = cpts.map(Self.standIn) }
                        t = collapsedText!
                    } else {
                        if plainText == nil { plainText = cpts.map { $0 >= 0x80 && CodepointClass.isWhitespace($0) ? 0x0B : $0 } }
                        t = plainText!
                    }
                    var last = start
                    while let m = regex.firstMatch(in: t, from: last, start: start, end: end) {
                        if m.lowerBound > last { next.append(m.lowerBound - last) }
                        next.append(m.count)
                        last = m.upperBound
                    }
                    if last < end { next.append(end - last) }
                }
                start = end
            }
            offsets = next
        }
        var pieces: [Substring] = []
        pieces.reserveCapacity(offsets.count)
        var index = scalars.startIndex
        for length in offsets {
            let end = scalars.index(index, offsetBy: length)
            pieces.append(Substring(scalars[index..<end]))
            index = end
        }
        return pieces
    }
}
