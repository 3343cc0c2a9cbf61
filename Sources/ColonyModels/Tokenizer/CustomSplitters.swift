/// llama.cpp's hand-written equivalents of its most used pre-tokenizer patterns (GPT-2's,
/// Llama 3's, Qwen2's, Qwen3.5's, and newline runs), ported line by line so that they split
/// exactly as it does. Each appends the lengths, in codepoints, of the pieces of
/// `cpts[start..<end]`.
enum CustomSplitters {
    private typealias C = CodepointClass

    private static func lower(_ c: UInt32) -> UInt32 { (0x41...0x5A).contains(c) ? c + 32 : c }

    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    static func gpt2(_ cpts: [UInt32], _ start: Int, _ end: Int, into out: inout [Int]) {
        var piece = Piece(start: start, end: end, cpts: cpts)
        func other(_ x: UInt32?) -> Bool { x.map { !(C.isWhitespace($0) || C.isLetter($0) || C.isNumber($0)) } ?? false }
        var pos = start
        while pos < end {
            let c = cpts[pos]
            if c == 0x27, pos + 1 < end {  // '
                let n1 = cpts[pos + 1]
                if [0x73, 0x74, 0x6D, 0x64].contains(n1) {  // s t m d
                    pos += piece.add(pos + 2, into: &out)
                    continue
                }
                if pos + 2 < end, [(0x72, 0x65), (0x76, 0x65), (0x6C, 0x6C)].contains(where: { $0 == (n1, cpts[pos + 2]) }) {
                    pos += piece.add(pos + 3, into: &out)
                    continue
                }
            }
            let c2 = c == 0x20 ? piece[pos + 1] : c
            let space = c == 0x20 ? 1 : 0
            if let c2, C.isLetter(c2) {
                pos += space
                while let x = piece[pos], C.isLetter(x) { pos += 1 }
                piece.add(pos, into: &out)
                continue
            }
            if let c2, C.isNumber(c2) {
                pos += space
                while let x = piece[pos], C.isNumber(x) { pos += 1 }
                piece.add(pos, into: &out)
                continue
            }
            if other(c2) {
                pos += space
                while other(piece[pos]) { pos += 1 }
                piece.add(pos, into: &out)
                continue
            }
            var spaces = 0
            while let x = piece[pos + spaces], C.isWhitespace(x) { spaces += 1 }
            pos = piece.whitespace(at: pos, run: spaces, into: &out)
        }
    }

    /// Llama 3's pattern and its relatives, which differ in digits and marks:
    /// `(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
    /// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+` (Qwen2: `\p{N}` alone; Qwen3.5: also
    /// `[\p{L}\p{M}]+` for letters).
    enum Variant { case llama3, qwen2, qwen35 }

    static func llama3(_ variant: Variant, _ cpts: [UInt32], _ start: Int, _ end: Int, into out: inout [Int]) {
        var piece = Piece(start: start, end: end, cpts: cpts)
        func letter(_ x: UInt32?) -> Bool {
            guard let x else { return false }
            return C.isLetter(x) || (variant == .qwen35 && C.isMark(x))
        }
        func other(_ x: UInt32?) -> Bool {
            guard let x else { return false }
            if C.isWhitespace(x) || C.isLetter(x) || C.isNumber(x) { return false }
            return !(variant == .qwen35 && C.isMark(x))
        }
        func newline(_ x: UInt32?) -> Bool { x == 0x0D || x == 0x0A }
        var pos = start
        while pos < end {
            let c = cpts[pos]
            if c == 0x27, pos + 1 < end {  // '
                let n1 = lower(cpts[pos + 1])
                if [0x73, 0x74, 0x6D, 0x64].contains(n1) {
                    pos += piece.add(pos + 2, into: &out)
                    continue
                }
                if pos + 2 < end, [(0x72, 0x65), (0x76, 0x65), (0x6C, 0x6C)].contains(where: { $0 == (n1, lower(cpts[pos + 2])) }) {
                    pos += piece.add(pos + 3, into: &out)
                    continue
                }
            }
            if !(newline(c) || C.isNumber(c)), letter(c) || letter(piece[pos + 1]) {
                pos += 1
                while letter(piece[pos]) { pos += 1 }
                piece.add(pos, into: &out)
                continue
            }
            if C.isNumber(c) {
                if variant == .llama3 {
                    var run = pos
                    while let x = piece[pos], C.isNumber(x) {
                        pos += 1
                        if pos - run >= 3 {
                            piece.add(pos, into: &out)
                            run = pos
                        }
                    }
                    piece.add(pos, into: &out)
                } else {
                    pos += 1
                    piece.add(pos, into: &out)
                }
                continue
            }
            let c2 = c == 0x20 ? piece[pos + 1] : c
            if other(c2) || (c == 0x20 && c2 == nil) {
                pos += c == 0x20 ? 1 : 0
                while other(piece[pos]) { pos += 1 }
                while newline(piece[pos]) { pos += 1 }
                piece.add(pos, into: &out)
                continue
            }
            var spaces = 0
            var lastNewline = 0
            while let x = piece[pos + spaces], C.isWhitespace(x) {
                if newline(x) { lastNewline = pos + spaces + 1 }
                spaces += 1
            }
            if lastNewline > 0 {
                pos = lastNewline
                piece.add(pos, into: &out)
                continue
            }
            pos = piece.whitespace(at: pos, run: spaces, into: &out)
        }
    }

    /// `[^\n]+|[\n]+`: runs of newlines and runs of everything else.
    static func newlines(_ cpts: [UInt32], _ start: Int, _ end: Int, into out: inout [Int]) {
        var pos = start
        while pos < end {
            let isNewline = cpts[pos] == 0x0A
            let run = pos
            while pos < end, (cpts[pos] == 0x0A) == isNewline { pos += 1 }
            out.append(pos - run)
        }
    }

    /// The piece being split: reads past its ends as nil, and emits pieces up to a position.
    private struct Piece {
        let start: Int
        let end: Int
        let cpts: [UInt32]
        var previous: Int

        init(start: Int, end: Int, cpts: [UInt32]) {
            self.start = start
            self.end = end
            self.cpts = cpts
            previous = start
        }

        subscript(_ i: Int) -> UInt32? { i >= start && i < end ? cpts[i] : nil }

        /// `\s+(?!\S)|\s+` over the `spaces` whitespace codepoints at `pos` (a run before a
        /// non-space leaves its last one to that word), or one codepoint when there are none.
        /// Returns where the piece ends.
        mutating func whitespace(at pos: Int, run spaces: Int, into out: inout [Int]) -> Int {
            let to = spaces > 1 && self[pos + spaces] != nil ? pos + spaces - 1 : pos + max(spaces, 1)
            add(to, into: &out)
            return to
        }

        /// Emits the piece from the last emitted position to `to`; returns its length.
        @discardableResult
        mutating func add(_ to: Int, into out: inout [Int]) -> Int {
            let length = to - previous
            if length > 0 { out.append(length) }
            previous = to
            return length
        }
    }
}
