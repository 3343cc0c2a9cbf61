/// What a request's output must be.
public enum OutputConstraint: Sendable, Equatable {
    /// One JSON object (OpenAI's `response_format: {"type": "json_object"}`).
    case jsonObject
}

/// Recognises JSON byte by byte, so the engine can mask every token that would make the
/// output invalid: each step keeps only tokens whose bytes the recognizer accepts.
///
/// It accepts exactly one top-level object, starting at the first byte, with at most
/// `maxWhitespaceRun` whitespace bytes in a row (so a small model cannot stall in endless
/// spaces) and nesting up to `maxDepth`. Strings must be well-formed UTF-8; escapes are
/// checked.
struct JSONRecognizer: Sendable, Equatable {
    static let maxWhitespaceRun = 8
    static let maxDepth = 32

    private enum State: Equatable {
        case start, value, firstKey, key, colon, firstElement, afterValue, done
        /// `continuation`: UTF-8 continuation bytes still expected inside the string.
        case string(isKey: Bool, continuation: Int), escape(isKey: Bool), unicode(isKey: Bool, remaining: Int)
        case number(Number)
        case literal(remaining: [UInt8])
    }

    private enum Number: Equatable { case minus, zero, integer, dot, fraction, exponent, exponentSign, exponentDigits }

    private var state = State.start
    private var stack: [UInt8] = []
    /// Allowed range of the next UTF-8 continuation byte (narrower right after some lead
    /// bytes, which rules out overlong forms, surrogates and code points past U+10FFFF).
    private var nextLow: UInt8 = 0x80
    private var nextHigh: UInt8 = 0xBF
    private var whitespaceRun = 0

    init(constraint: OutputConstraint) {}

    /// True once a whole object has been read.
    var isComplete: Bool { state == .done }

    /// Feeds every byte; false (and the recognizer is then unusable) if one is rejected.
    mutating func accept<S: Sequence>(_ bytes: S) -> Bool where S.Element == UInt8 {
        for b in bytes where !feed(b) { return false }
        return true
    }

    private static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 }
    private static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    private mutating func feed(_ b: UInt8) -> Bool {
        switch state {
        case .string(let isKey, let continuation):
            if continuation > 0 {
                guard b >= nextLow && b <= nextHigh else { return false }
                (nextLow, nextHigh) = (0x80, 0xBF)
                state = .string(isKey: isKey, continuation: continuation - 1)
                return true
            }
            if b == UInt8(ascii: "\"") { state = isKey ? .colon : .afterValue; return true }
            if b == UInt8(ascii: "\\") { state = .escape(isKey: isKey); return true }
            switch b {
            case 0x20..<0x80: return true
            case 0xC2...0xDF: state = .string(isKey: isKey, continuation: 1)
            case 0xE0...0xEF: state = .string(isKey: isKey, continuation: 2)
            case 0xF0...0xF4: state = .string(isKey: isKey, continuation: 3)
            default: return false // control bytes, stray continuation bytes, invalid leads
            }
            switch b { // Unicode's table of well-formed sequences
            case 0xE0: (nextLow, nextHigh) = (0xA0, 0xBF)
            case 0xED: (nextLow, nextHigh) = (0x80, 0x9F)
            case 0xF0: (nextLow, nextHigh) = (0x90, 0xBF)
            case 0xF4: (nextLow, nextHigh) = (0x80, 0x8F)
            default: break
            }
            return true
        case .escape(let isKey):
            if b == UInt8(ascii: "u") { state = .unicode(isKey: isKey, remaining: 4); return true }
            guard Array("\"\\/bfnrt".utf8).contains(b) else { return false }
            state = .string(isKey: isKey, continuation: 0)
            return true
        case .unicode(let isKey, let remaining):
            guard Self.isDigit(b) || (b | 0x20 >= UInt8(ascii: "a") && b | 0x20 <= UInt8(ascii: "f")) else { return false }
            state = remaining == 1 ? .string(isKey: isKey, continuation: 0) : .unicode(isKey: isKey, remaining: remaining - 1)
            return true
        case .literal(let remaining):
            guard b == remaining[0] else { return false }
            state = remaining.count == 1 ? .afterValue : .literal(remaining: Array(remaining.dropFirst()))
            return true
        case .number(let n):
            if let next = Self.advance(n, b) { state = .number(next); return true }
            guard [.zero, .integer, .fraction, .exponentDigits].contains(n) else { return false }
            state = .afterValue // the number ended: this byte belongs to what follows
            return feed(b)
        case .done:
            return false
        case .start:
            return open(b, UInt8(ascii: "{")) // no leading whitespace: the reply starts with the object
        default:
            break
        }
        if Self.isSpace(b) {
            whitespaceRun += 1
            return whitespaceRun <= Self.maxWhitespaceRun
        }
        whitespaceRun = 0
        switch state {
        case .value, .firstElement:
            if state == .firstElement, b == UInt8(ascii: "]") { return close(b) }
            return startValue(b)
        case .firstKey, .key:
            if state == .firstKey, b == UInt8(ascii: "}") { return close(b) }
            guard b == UInt8(ascii: "\"") else { return false }
            state = .string(isKey: true, continuation: 0)
            return true
        case .colon:
            guard b == UInt8(ascii: ":") else { return false }
            state = .value
            return true
        case .afterValue:
            guard let top = stack.last else { return false }
            if b == UInt8(ascii: ",") { state = top == UInt8(ascii: "{") ? .key : .value; return true }
            return close(b)
        default:
            return false
        }
    }

    private mutating func startValue(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "{"), UInt8(ascii: "["): return open(b, b)
        case UInt8(ascii: "\""): state = .string(isKey: false, continuation: 0); return true
        case UInt8(ascii: "-"): state = .number(.minus); return true
        case UInt8(ascii: "0"): state = .number(.zero); return true
        case UInt8(ascii: "t"): state = .literal(remaining: Array("rue".utf8)); return true
        case UInt8(ascii: "f"): state = .literal(remaining: Array("alse".utf8)); return true
        case UInt8(ascii: "n"): state = .literal(remaining: Array("ull".utf8)); return true
        default:
            guard Self.isDigit(b) else { return false }
            state = .number(.integer)
            return true
        }
    }

    private mutating func open(_ b: UInt8, _ expected: UInt8) -> Bool {
        guard b == expected, stack.count < Self.maxDepth else { return false }
        stack.append(b)
        state = b == UInt8(ascii: "{") ? .firstKey : .firstElement
        return true
    }

    private mutating func close(_ b: UInt8) -> Bool {
        guard let top = stack.last,
              (top == UInt8(ascii: "{") && b == UInt8(ascii: "}")) || (top == UInt8(ascii: "[") && b == UInt8(ascii: "]")) else { return false }
        stack.removeLast()
        state = stack.isEmpty ? .done : .afterValue
        return true
    }

    private static func advance(_ n: Number, _ b: UInt8) -> Number? {
        let digit = isDigit(b)
        switch n {
        case .minus: return b == UInt8(ascii: "0") ? .zero : digit ? .integer : nil
        case .zero: return b == UInt8(ascii: ".") ? .dot : (b | 0x20) == UInt8(ascii: "e") ? .exponent : nil
        case .integer: return digit ? .integer : b == UInt8(ascii: ".") ? .dot : (b | 0x20) == UInt8(ascii: "e") ? .exponent : nil
        case .dot: return digit ? .fraction : nil
        case .fraction: return digit ? .fraction : (b | 0x20) == UInt8(ascii: "e") ? .exponent : nil
        case .exponent: return b == UInt8(ascii: "+") || b == UInt8(ascii: "-") ? .exponentSign : digit ? .exponentDigits : nil
        case .exponentSign, .exponentDigits: return digit ? .exponentDigits : nil
        }
    }
}
