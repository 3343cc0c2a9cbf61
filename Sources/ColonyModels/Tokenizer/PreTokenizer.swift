/// Splits text into the pieces that BPE then encodes one by one, as the model's
/// `tokenizer.ggml.pre` declares.
public enum PreTokenizer: String, Sendable, CaseIterable {
    /// GPT-2's pattern: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
    case gpt2
    /// Every digit on its own, then GPT-2's pattern (SmolLM, StarCoder, Refact).
    case digitsThenGPT2

    /// Maps a `tokenizer.ggml.pre` value; nil for a pre-tokenizer Colony does not know.
    public init?(ggmlName: String) {
        switch ggmlName {
        case "default", "gpt2", "gpt-2": self = .gpt2
        case "smollm", "starcoder", "refact", "codeshell": self = .digitsThenGPT2
        default: return nil
        }
    }

    /// The names `init(ggmlName:)` accepts.
    public static let knownNames = ["default", "gpt2", "gpt-2", "smollm", "starcoder", "refact", "codeshell"]

    /// The pieces of `text`, in order; their concatenation is `text`.
    public func split(_ text: Substring) -> [Substring] {
        var pieces: [Substring] = []
        switch self {
        case .gpt2:
            Self.gpt2Split(text, into: &pieces)
        case .digitsThenGPT2:
            var start = text.unicodeScalars.startIndex
            var i = start
            let scalars = text.unicodeScalars
            while i < scalars.endIndex {
                if Self.isNumber(scalars[i]) {
                    if start < i { Self.gpt2Split(Substring(scalars[start..<i]), into: &pieces) }
                    let next = scalars.index(after: i)
                    pieces.append(Substring(scalars[i..<next]))
                    start = next
                    i = next
                } else {
                    i = scalars.index(after: i)
                }
            }
            if start < scalars.endIndex { Self.gpt2Split(Substring(scalars[start...]), into: &pieces) }
        }
        return pieces
    }

    private static func gpt2Split(_ text: Substring, into pieces: inout [Substring]) {
        let s = Array(text.unicodeScalars)
        var indices: [String.Index] = []
        indices.reserveCapacity(s.count + 1)
        var idx = text.unicodeScalars.startIndex
        for _ in 0..<s.count {
            indices.append(idx)
            idx = text.unicodeScalars.index(after: idx)
        }
        indices.append(text.unicodeScalars.endIndex)
        var i = 0
        while i < s.count {
            let end = matchEnd(s, at: i)
            pieces.append(Substring(text.unicodeScalars[indices[i]..<indices[end]]))
            i = end
        }
    }

    /// End of the GPT-2 pattern's match starting at `i` (alternatives tried in order).
    private static func matchEnd(_ s: [Unicode.Scalar], at i: Int) -> Int {
        let n = s.count
        if s[i] == "'", i + 1 < n {
            let a = s[i + 1]
            if a == "s" || a == "t" || a == "m" || a == "d" { return i + 2 }
            if i + 2 < n {
                let b = s[i + 2]
                if (a == "r" && b == "e") || (a == "v" && b == "e") || (a == "l" && b == "l") { return i + 3 }
            }
        }
        let start = s[i] == " " && i + 1 < n ? i + 1 : i
        let first = s[start]
        if isLetter(first) { return run(s, from: start, while: isLetter) }
        if isNumber(first) { return run(s, from: start, while: isNumber) }
        if isOther(first) { return run(s, from: start, while: isOther) }
        // Whitespace: the longest run not followed by a non-space, else a single space.
        let k = run(s, from: i, while: isSpace)
        if k == n { return n }
        return k - i > 1 ? k - 1 : i + 1
    }

    private static func run(_ s: [Unicode.Scalar], from i: Int, while pred: (Unicode.Scalar) -> Bool) -> Int {
        var j = i
        while j < s.count, pred(s[j]) { j += 1 }
        return j
    }

    static func isLetter(_ c: Unicode.Scalar) -> Bool {
        if c.isASCII { return (c >= "a" && c <= "z") || (c >= "A" && c <= "Z") }
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }

    static func isNumber(_ c: Unicode.Scalar) -> Bool {
        if c.isASCII { return c >= "0" && c <= "9" }
        switch c.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }

    static func isSpace(_ c: Unicode.Scalar) -> Bool { c.properties.isWhitespace }

    private static func isOther(_ c: Unicode.Scalar) -> Bool { !isSpace(c) && !isLetter(c) && !isNumber(c) }
}
