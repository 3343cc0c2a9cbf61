/// The part of ECMAScript regular expressions that llama.cpp's pre-tokenizers use, matched over
/// codepoints with `std::regex`'s semantics (leftmost match, alternatives in order, greedy
/// quantifiers that backtrack): alternation; groups `(…)`, `(?:…)` and lookaheads `(?=…)`,
/// `(?!…)`; classes with ranges, negation and escapes; `\s \S \d \D \w \W \b` in their ASCII
/// (C locale) meaning; `? * + {n} {n,} {n,m}`; `.` and `$`. Unicode categories (`\p{L}`) are
/// not known here: `PreTokenizer` rewrites them first, as llama.cpp does.
struct SplitRegex: Sendable {
    indirect enum Node: Sendable {
        case set(CharacterSet)
        case sequence([Node])
        case alternation([Node])
        case repetition(Node, min: Int, max: Int?)
        case lookahead(Node, negated: Bool)
        case wordBoundary
        case end
    }

    /// A class: codepoint ranges, classes such as `\S` that count by not containing, and negation.
    struct CharacterSet: Sendable {
        var ranges: [ClosedRange<UInt32>] = []
        var excluding: [[ClosedRange<UInt32>]] = []
        var negated = false

        func contains(_ c: UInt32) -> Bool {
            let member = ranges.contains { $0.contains(c) } || excluding.contains { set in !set.contains { $0.contains(c) } }
            return member != negated
        }
    }

    static let space: [ClosedRange<UInt32>] = [0x09...0x0D, 0x20...0x20]
    static let digit: [ClosedRange<UInt32>] = [0x30...0x39]
    static let word: [ClosedRange<UInt32>] = [0x30...0x39, 0x41...0x5A, 0x5F...0x5F, 0x61...0x7A]

    let root: Node

    /// Parses `pattern`; throws on a construct outside the supported part, naming it.
    init(_ pattern: String) throws(ModelError) {
        var parser = Parser(pattern: Array(pattern.unicodeScalars.map(\.value)))
        root = try parser.parseAlternation()
        guard parser.atEnd else { throw parser.error("unbalanced ')'") }
    }

    /// The first non-empty match in `text[start..<end]` at or after `from`.
    func firstMatch(in text: [UInt32], from: Int, start: Int, end: Int) -> Range<Int>? {
        var i = from
        while i < end {
            var matchEnd = -1
            _ = Self.match(root, text, i, start, end) { e in
                matchEnd = e
                return true
            }
            if matchEnd > i { return i..<matchEnd }
            i += 1
        }
        return nil
    }

    private static func isWord(_ c: UInt32) -> Bool { word.contains { $0.contains(c) } }

    private static func match(_ node: Node, _ t: [UInt32], _ i: Int, _ start: Int, _ end: Int, _ k: (Int) -> Bool) -> Bool {
        switch node {
        case .set(let s):
            return i < end && s.contains(t[i]) && k(i + 1)
        case .sequence(let nodes):
            return sequence(nodes[...], t, i, start, end, k)
        case .alternation(let alternatives):
            for a in alternatives where match(a, t, i, start, end, k) { return true }
            return false
        case .repetition(let n, let min, let max):
            return repeatMatch(n, min: min, max: max, count: 0, t, i, start, end, k)
        case .lookahead(let n, let negated):
            return match(n, t, i, start, end) { _ in true } != negated && k(i)
        case .wordBoundary:
            let before = i > start && isWord(t[i - 1])
            let after = i < end && isWord(t[i])
            return before != after && k(i)
        case .end:
            return i == end && k(i)
        }
    }

    private static func sequence(
        _ nodes: ArraySlice<Node>, _ t: [UInt32], _ i: Int, _ start: Int, _ end: Int, _ k: (Int) -> Bool
    ) -> Bool {
        guard let first = nodes.first else { return k(i) }
        return match(first, t, i, start, end) { j in sequence(nodes.dropFirst(), t, j, start, end, k) }
    }

    private static func repeatMatch(
        _ n: Node, min: Int, max: Int?, count: Int, _ t: [UInt32], _ i: Int, _ start: Int, _ end: Int, _ k: (Int) -> Bool
    ) -> Bool {
        if max.map({ count < $0 }) ?? true {
            // Greedy: one more first. An iteration that consumes nothing ends the loop (as ECMAScript).
            let more = match(n, t, i, start, end) { j in
                j != i && repeatMatch(n, min: min, max: max, count: count + 1, t, j, start, end, k)
            }
            if more { return true }
        }
        return count >= min && k(i)
    }

    private struct Parser {
        let pattern: [UInt32]
        var at = 0

        var atEnd: Bool { at == pattern.count }

        func error(_ what: String) -> ModelError {
            .invalidTokenizer("pre-tokenizer pattern: \(what) at offset \(at)")
        }

        mutating func parseAlternation() throws(ModelError) -> Node {
            var alternatives = [try parseSequence()]
            while at < pattern.count, pattern[at] == 0x7C {  // |
                at += 1
                alternatives.append(try parseSequence())
            }
            return alternatives.count == 1 ? alternatives[0] : .alternation(alternatives)
        }

        mutating func parseSequence() throws(ModelError) -> Node {
            var nodes: [Node] = []
            while at < pattern.count, pattern[at] != 0x7C, pattern[at] != 0x29 {  // | )
                var atom = try parseAtom()
                atom = try parseQuantifier(atom)
                nodes.append(atom)
            }
            return nodes.count == 1 ? nodes[0] : .sequence(nodes)
        }

        mutating func parseQuantifier(_ atom: Node) throws(ModelError) -> Node {
            guard at < pattern.count else { return atom }
            let (min, max): (Int, Int?)
            switch pattern[at] {
            case 0x3F: (min, max) = (0, 1)  // ?
            case 0x2A: (min, max) = (0, nil)  // *
            case 0x2B: (min, max) = (1, nil)  // +
            case 0x7B:  // {n}, {n,}, {n,m}
                at += 1
                let n = number()
                var m: Int? = n
                if at < pattern.count, pattern[at] == 0x2C {
                    at += 1
                    m = at < pattern.count && pattern[at] == 0x7D ? nil : number()
                }
                guard let n, at < pattern.count, pattern[at] == 0x7D else { throw error("bad {n,m} quantifier") }
                (min, max) = (n, m)
            default: return atom
            }
            at += 1
            if at < pattern.count, pattern[at] == 0x3F || pattern[at] == 0x2B { throw error("lazy or possessive quantifier") }
            return .repetition(atom, min: min, max: max)
        }

        mutating func number() -> Int? {
            var value: Int?
            while at < pattern.count, (0x30...0x39).contains(pattern[at]) {
                value = (value ?? 0) * 10 + Int(pattern[at] - 0x30)
                at += 1
            }
            return value
        }

        mutating func parseAtom() throws(ModelError) -> Node {
            let c = pattern[at]
            at += 1
            switch c {
            case 0x28:  // (
                var lookahead: Bool?
                if at + 1 < pattern.count, pattern[at] == 0x3F {  // ?
                    switch pattern[at + 1] {
                    case 0x3A: break  // (?:
                    case 0x3D: lookahead = false  // (?=
                    case 0x21: lookahead = true  // (?!
                    default: throw error("group (?\(Character(Unicode.Scalar(pattern[at + 1])!))")
                    }
                    at += 2
                }
                let inner = try parseAlternation()
                guard at < pattern.count, pattern[at] == 0x29 else { throw error("missing ')'") }
                at += 1
                return lookahead.map { .lookahead(inner, negated: $0) } ?? inner
            case 0x5B: return .set(try parseClass())  // [
            case 0x2E: return .set(CharacterSet(ranges: [0x0A...0x0A, 0x0D...0x0D], negated: true))  // .
            case 0x24: return .end  // $
            case 0x5C:  // backslash
                if at < pattern.count, pattern[at] == 0x62 {  // \b
                    at += 1
                    return .wordBoundary
                }
                return .set(try parseEscape())
            case 0x2A, 0x2B, 0x3F, 0x7B: throw error("quantifier with nothing to repeat")
            default: return .set(CharacterSet(ranges: [c...c]))
            }
        }

        /// An escape after the backslash, as a set (`\s`, `\d`, `\n`, `\$`, …).
        mutating func parseEscape() throws(ModelError) -> CharacterSet {
            guard at < pattern.count else { throw error("trailing backslash") }
            let e = pattern[at]
            at += 1
            switch e {
            case 0x73: return CharacterSet(ranges: SplitRegex.space)  // s
            case 0x53: return CharacterSet(excluding: [SplitRegex.space])  // S
            case 0x64: return CharacterSet(ranges: SplitRegex.digit)  // d
            case 0x44: return CharacterSet(excluding: [SplitRegex.digit])  // D
            case 0x77: return CharacterSet(ranges: SplitRegex.word)  // w
            case 0x57: return CharacterSet(excluding: [SplitRegex.word])  // W
            case 0x72: return CharacterSet(ranges: [0x0D...0x0D])  // r
            case 0x6E: return CharacterSet(ranges: [0x0A...0x0A])  // n
            case 0x74: return CharacterSet(ranges: [0x09...0x09])  // t
            case 0x76: return CharacterSet(ranges: [0x0B...0x0B])  // v
            case 0x66: return CharacterSet(ranges: [0x0C...0x0C])  // f
            case 0x70, 0x50: throw error("Unicode property \\p{…} that llama.cpp does not rewrite")
            default:
                guard !(0x30...0x39).contains(e), !(0x41...0x5A).contains(e), !(0x61...0x7A).contains(e) else {
                    throw error("escape \\\(Character(Unicode.Scalar(e)!))")
                }
                return CharacterSet(ranges: [e...e])
            }
        }

        mutating func parseClass() throws(ModelError) -> CharacterSet {
            var set = CharacterSet()
            if at < pattern.count, pattern[at] == 0x5E {  // ^
                set.negated = true
                at += 1
            }
            var first = true
            while at < pattern.count, pattern[at] != 0x5D || first {  // ]
                first = false
                let low: UInt32
                if pattern[at] == 0x5C {
                    at += 1
                    let escaped = try parseEscape()
                    guard escaped.ranges.count == 1, escaped.excluding.isEmpty, escaped.ranges[0].count == 1 else {
                        set.ranges += escaped.ranges
                        set.excluding += escaped.excluding
                        continue
                    }
                    low = escaped.ranges[0].lowerBound
                } else {
                    low = pattern[at]
                    at += 1
                }
                var high = low
                if at + 1 < pattern.count, pattern[at] == 0x2D, pattern[at + 1] != 0x5D {  // a-z
                    at += 1
                    if pattern[at] == 0x5C {
                        at += 1
                        let escaped = try parseEscape()
                        guard escaped.ranges.count == 1, escaped.ranges[0].count == 1 else { throw error("class range to a class") }
                        high = escaped.ranges[0].lowerBound
                    } else {
                        high = pattern[at]
                        at += 1
                    }
                    guard low <= high else { throw error("class range out of order") }
                }
                set.ranges.append(low...high)
            }
            guard at < pattern.count else { throw error("missing ']'") }
            at += 1
            return set
        }
    }
}
