/// One token of a template: text between tags, tag delimiters, or a piece of an expression.
struct Token: Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        case text(String)
        case variableBegin, variableEnd, blockBegin, blockEnd
        case name(String)
        case string(String)
        case int(Int)
        case double(Double)
        case op(String)
        case end
    }
    var kind: Kind
    var line: Int
}

/// Splits a template into tokens, applying whitespace control as Hugging Face's
/// `apply_chat_template` configures jinja2: `trim_blocks` (the first newline after a block
/// or comment tag goes), `lstrip_blocks` (spaces and tabs before a block or comment tag on
/// its own line go), and the `-`/`+` modifiers inside tags.
struct JinjaLexer {
    private let src: [UInt8]
    private var i = 0
    private var line = 1
    private var tokens: [Token] = []

    init(_ source: String) { src = Array(source.utf8) }

    static func tokenize(_ source: String) throws(JinjaError) -> [Token] {
        var lexer = JinjaLexer(source)
        try lexer.run()
        return lexer.tokens
    }

    private static let operators = [
        "//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=", "(", ")", "[", "]", "{", "}", ",", ".", ":", "|",
    ]
    .map { Array($0.utf8) }

    private mutating func run() throws(JinjaError) {
        // What the previous tag asked of the text after it.
        var stripLeading = false
        var trimNewline = false
        while i < src.count {
            let start = i
            let open = nextTag(from: i)
            var textStart = start
            var textEnd = open ?? src.count
            if stripLeading {
                while textStart < textEnd, Self.isSpace(src[textStart]) { textStart += 1 }
            } else if trimNewline, textStart < textEnd {
                if src[textStart] == UInt8(ascii: "\n") {
                    textStart += 1
                } else if src[textStart] == UInt8(ascii: "\r") {
                    textStart += textStart + 1 < textEnd && src[textStart + 1] == UInt8(ascii: "\n") ? 2 : 1
                }
            }
            if let open {
                let kind = src[open + 1]
                let modifier = open + 2 < src.count ? src[open + 2] : 0
                if modifier == UInt8(ascii: "-") {
                    while textEnd > textStart, Self.isSpace(src[textEnd - 1]) { textEnd -= 1 }
                } else if kind != UInt8(ascii: "{"), modifier != UInt8(ascii: "+") {
                    // lstrip_blocks: only when the tag is the first thing on its line.
                    var k = open
                    while k > start, src[k - 1] == UInt8(ascii: " ") || src[k - 1] == UInt8(ascii: "\t") { k -= 1 }
                    if k == 0 || src[k - 1] == UInt8(ascii: "\n") { textEnd = max(textStart, min(textEnd, k)) }
                }
            }
            if textStart < textEnd {
                tokens.append(Token(kind: .text(String(decoding: src[textStart..<textEnd], as: UTF8.self)), line: line))
            }
            countLines(start, open ?? src.count)
            guard let open else { break }
            i = open
            (stripLeading, trimNewline) = try tag()
        }
        tokens.append(Token(kind: .end, line: line))
    }

    private static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D || b == 0x0B || b == 0x0C }

    private mutating func countLines(_ from: Int, _ to: Int) {
        for k in from..<to where src[k] == UInt8(ascii: "\n") { line += 1 }
    }

    /// The index of the next `{{`, `{%` or `{#` at or after `from`.
    private func nextTag(from: Int) -> Int? {
        var k = from
        while k + 1 < src.count {
            if src[k] == UInt8(ascii: "{") {
                let c = src[k + 1]
                if c == UInt8(ascii: "{") || c == UInt8(ascii: "%") || c == UInt8(ascii: "#") { return k }
            }
            k += 1
        }
        return nil
    }

    /// Lexes the tag at `i`; returns whether the text after it loses its leading whitespace
    /// (`-` before the closer) or its first newline (trim_blocks).
    private mutating func tag() throws(JinjaError) -> (Bool, Bool) {
        let kind = src[i + 1]
        i += 2
        if i < src.count, src[i] == UInt8(ascii: "-") || src[i] == UInt8(ascii: "+") { i += 1 }
        if kind == UInt8(ascii: "#") {
            let startLine = line
            while i + 1 < src.count, !(src[i] == UInt8(ascii: "#") && src[i + 1] == UInt8(ascii: "}")) {
                if src[i] == UInt8(ascii: "\n") { line += 1 }
                i += 1
            }
            guard i + 1 < src.count else { throw .syntax(line: startLine, "missing end of comment tag") }
            let modifier = src[i - 1]
            i += 2
            return (modifier == UInt8(ascii: "-"), modifier != UInt8(ascii: "+"))
        }
        let isBlock = kind == UInt8(ascii: "%")
        tokens.append(Token(kind: isBlock ? .blockBegin : .variableBegin, line: line))
        let close = isBlock ? UInt8(ascii: "%") : UInt8(ascii: "}")
        var depth = 0
        let first = tokens.count
        while true {
            skipSpace()
            guard i < src.count else { throw .syntax(line: line, "unexpected end of template: a tag is not closed") }
            // The closer, possibly with a modifier before it, ends the tag outside brackets.
            if depth == 0 {
                var k = i
                var modifier: UInt8 = 0
                if src[k] == UInt8(ascii: "-") || src[k] == UInt8(ascii: "+") {
                    modifier = src[k]
                    k += 1
                }
                if k + 1 < src.count, src[k] == close, src[k + 1] == UInt8(ascii: "}") {
                    // `-` followed by the closer is a modifier only where an operand cannot follow.
                    tokens.append(Token(kind: isBlock ? .blockEnd : .variableEnd, line: line))
                    i = k + 2
                    if isBlock, tokens.count > first, case .name("raw") = tokens[first].kind { try raw(modifier: modifier) }
                    return (modifier == UInt8(ascii: "-"), isBlock && modifier != UInt8(ascii: "+"))
                }
            }
            let token = try expressionToken()
            if case .op(let o) = token.kind {
                if o == "(" || o == "[" || o == "{" { depth += 1 }
                if o == ")" || o == "]" || o == "}" { depth -= 1 }
            }
            tokens.append(token)
        }
    }

    /// `{% raw %}…{% endraw %}`: the text in between, verbatim.
    private mutating func raw(modifier: UInt8) throws(JinjaError) {
        tokens.removeLast(3)  // blockBegin, raw, blockEnd
        let startLine = line
        var k = i
        while k + 1 < src.count {
            if src[k] == UInt8(ascii: "{"), src[k + 1] == UInt8(ascii: "%") {
                var m = k + 2
                if m < src.count, src[m] == UInt8(ascii: "-") || src[m] == UInt8(ascii: "+") { m += 1 }
                while m < src.count, src[m] == UInt8(ascii: " ") { m += 1 }
                if src[m...].starts(with: Array("endraw".utf8)) {
                    var textEnd = k
                    if src[k + 2] == UInt8(ascii: "-") { while textEnd > i, Self.isSpace(src[textEnd - 1]) { textEnd -= 1 } }
                    var textStart = i
                    if modifier == UInt8(ascii: "-") { while textStart < textEnd, Self.isSpace(src[textStart]) { textStart += 1 } }
                    tokens.append(Token(kind: .text(String(decoding: src[textStart..<textEnd], as: UTF8.self)), line: startLine))
                    countLines(i, k)
                    i = k
                    return
                }
            }
            k += 1
        }
        throw .syntax(line: startLine, "missing endraw for raw block")
    }

    private mutating func skipSpace() {
        while i < src.count, Self.isSpace(src[i]) {
            if src[i] == UInt8(ascii: "\n") { line += 1 }
            i += 1
        }
    }

    private mutating func expressionToken() throws(JinjaError) -> Token {
        let c = src[i]
        if c == UInt8(ascii: "_") || (c | 0x20 >= UInt8(ascii: "a") && c | 0x20 <= UInt8(ascii: "z")) || c >= 0x80 {
            let start = i
            while i < src.count,
                src[i] == UInt8(ascii: "_") || (src[i] | 0x20 >= UInt8(ascii: "a") && src[i] | 0x20 <= UInt8(ascii: "z"))
                    || (src[i] >= UInt8(ascii: "0") && src[i] <= UInt8(ascii: "9")) || src[i] >= 0x80
            {
                i += 1
            }
            return Token(kind: .name(String(decoding: src[start..<i], as: UTF8.self)), line: line)
        }
        if c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") { return number() }
        if c == UInt8(ascii: "'") || c == UInt8(ascii: "\"") { return try string(quote: c) }
        for op in Self.operators where src[i...].starts(with: op) {
            i += op.count
            return Token(kind: .op(String(decoding: op, as: UTF8.self)), line: line)
        }
        throw .syntax(line: line, "unexpected character '\(String(decoding: [c], as: UTF8.self))'")
    }

    private mutating func number() -> Token {
        let start = i
        var isDouble = false
        func digits() {
            while i < src.count, (src[i] >= UInt8(ascii: "0") && src[i] <= UInt8(ascii: "9")) || src[i] == UInt8(ascii: "_") { i += 1 }
        }
        digits()
        if i + 1 < src.count, src[i] == UInt8(ascii: "."), src[i + 1] >= UInt8(ascii: "0"), src[i + 1] <= UInt8(ascii: "9") {
            isDouble = true
            i += 1
            digits()
        }
        if i < src.count, src[i] | 0x20 == UInt8(ascii: "e") {
            var k = i + 1
            if k < src.count, src[k] == UInt8(ascii: "+") || src[k] == UInt8(ascii: "-") { k += 1 }
            if k < src.count, src[k] >= UInt8(ascii: "0"), src[k] <= UInt8(ascii: "9") {
                isDouble = true
                i = k
                digits()
            }
        }
        let text = String(decoding: src[start..<i], as: UTF8.self).replacing("_", with: "")
        return Token(kind: isDouble ? .double(Double(text) ?? 0) : .int(Int(text) ?? 0), line: line)
    }

    private mutating func string(quote: UInt8) throws(JinjaError) -> Token {
        let startLine = line
        i += 1
        var bytes: [UInt8] = []
        while i < src.count, src[i] != quote {
            if src[i] == UInt8(ascii: "\\"), i + 1 < src.count {
                i += 1
                let e = src[i]
                switch e {
                case UInt8(ascii: "n"): bytes.append(0x0A)
                case UInt8(ascii: "t"): bytes.append(0x09)
                case UInt8(ascii: "r"): bytes.append(0x0D)
                case UInt8(ascii: "0"): bytes.append(0)
                case UInt8(ascii: "\n"): line += 1
                case UInt8(ascii: "u"), UInt8(ascii: "x"), UInt8(ascii: "U"):
                    let n = e == UInt8(ascii: "x") ? 2 : e == UInt8(ascii: "u") ? 4 : 8
                    let hex = String(decoding: src[(i + 1)..<min(src.count, i + 1 + n)], as: UTF8.self)
                    guard hex.utf8.count == n, let v = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(v) else {
                        throw .syntax(line: line, "bad escape '\\\(String(decoding: [e], as: UTF8.self))\(hex)' in a string")
                    }
                    bytes.append(contentsOf: Array(String(Character(scalar)).utf8))
                    i += n
                case UInt8(ascii: "\\"), UInt8(ascii: "'"), UInt8(ascii: "\""): bytes.append(e)
                default: bytes.append(contentsOf: [UInt8(ascii: "\\"), e])
                }
            } else {
                if src[i] == UInt8(ascii: "\n") { line += 1 }
                bytes.append(src[i])
            }
            i += 1
        }
        guard i < src.count else { throw .syntax(line: startLine, "a string is not closed") }
        i += 1
        return Token(kind: .string(String(decoding: bytes, as: UTF8.self)), line: startLine)
    }
}
