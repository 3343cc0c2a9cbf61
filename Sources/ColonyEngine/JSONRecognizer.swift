/// What a request's output must be.
public enum OutputConstraint: Sendable, Equatable, Codable {
    /// One JSON object (OpenAI's `response_format: {"type": "json_object"}`).
    case jsonObject
    /// One JSON value valid for the schema (`json_schema`, and tool calls).
    case jsonSchema(JSONSchema)

    var schema: JSONSchema {
        switch self {
        case .jsonObject: .anyObject
        case .jsonSchema(let s): s
        }
    }
}

/// Recognises schema-shaped JSON byte by byte, so the engine can mask every token that
/// would make the output invalid: each step keeps only tokens whose bytes it accepts.
///
/// A pushdown machine: a stack of frames, one per open value. The output starts at the
/// first byte (no leading whitespace). Schema output is compact (no whitespace between
/// tokens: the shortest path to a complete value for a model with few tokens to spare);
/// free JSON objects allow at most `maxWhitespaceRun` whitespace bytes in a row (so a
/// small model cannot stall in spaces);
/// nesting stops at `maxDepth`; strings must be well-formed UTF-8 with valid escapes.
struct JSONRecognizer: Sendable, Equatable {
    static let maxWhitespaceRun = 8
    static let maxDepth = 32

    private enum Phase: Equatable { case keyOrClose, key, colon, commaOrClose }

    private indirect enum Frame: Equatable {
        /// Before the first byte of a value.
        case value(JSONSchema)
        /// Inside an object; `properties` nil means any keys. `index`: the property being read.
        case object(properties: [JSONSchema.Property]?, index: Int, phase: Phase, tools: [JSONSchema.Tool]?, chosenTool: Int?)
        case array(items: JSONSchema, first: Bool, phase: Phase)
        case string(StringState)
        /// The exact bytes still to come (a fixed key with its quotes and colon, or a literal).
        case exact([UInt8], then: JSONSchema?)
        case number(Number, integerOnly: Bool)
        /// Candidates (JSON texts) and how many bytes matched.
        case oneOf([[UInt8]], matched: Int)
    }

    struct StringState: Equatable {
        var escape = false
        var hexRemaining = 0
        var continuation = 0
        var low: UInt8 = 0x80
        var high: UInt8 = 0xBF
    }

    private enum Number: Equatable { case minus, zero, integer, dot, fraction, exponent, exponentSign, exponentDigits }

    private var stack: [Frame]
    private let allowsWhitespace: Bool
    private var whitespaceRun = 0
    private var started = false

    init(constraint: OutputConstraint) {
        stack = [.value(constraint.schema)]
        allowsWhitespace = constraint == .jsonObject
    }

    /// True once the whole value has been read.
    var isComplete: Bool { stack.isEmpty }

    /// Feeds every byte; false (and the recognizer is then unusable) if one is rejected.
    mutating func accept<S: Sequence>(_ bytes: S) -> Bool where S.Element == UInt8 {
        for b in bytes where !feed(b) { return false }
        return true
    }

    private static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 }
    private static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    private mutating func feed(_ b: UInt8) -> Bool {
        guard let top = stack.last else { return false }
        defer { started = true }
        switch top {
        case .string(var s):
            guard let done = Self.advance(&s, b) else { return false }
            if done { pop() } else { replaceTop(.string(s)) }
            return true
        case .exact(let bytes, let then):
            guard b == bytes[0] else { return false }
            if bytes.count > 1 {
                replaceTop(.exact(Array(bytes.dropFirst()), then: then))
                return true
            }
            if let then { replaceTop(.value(then)) } else { pop() }
            return true
        case .number(let n, let integerOnly):
            if let next = Self.advance(n, b, integerOnly: integerOnly) {
                replaceTop(.number(next, integerOnly: integerOnly))
                return true
            }
            guard [.zero, .integer, .fraction, .exponentDigits].contains(n) else { return false }
            pop()  // the number ended: this byte belongs to what follows
            return feed(b)
        case .oneOf(let candidates, let matched):
            let rest = candidates.filter { $0.count > matched && $0[matched] == b }
            if !rest.isEmpty {
                if rest.count == 1, rest[0].count == matched + 1, !Self.isNumeric(rest[0]) {
                    pop(choice: rest[0])
                } else {
                    replaceTop(.oneOf(rest, matched: matched + 1))
                }
                return true
            }
            // A number candidate may end here; the byte then belongs to what follows.
            guard let done = candidates.first(where: { $0.count == matched }) else { return false }
            pop(choice: done)
            return feed(b)
        default:
            break
        }
        if Self.isSpace(b) {
            guard started, allowsWhitespace else { return false }  // the reply starts with the value itself
            whitespaceRun += 1
            return whitespaceRun <= Self.maxWhitespaceRun
        }
        whitespaceRun = 0
        switch top {
        case .value(let schema):
            return startValue(schema, b)
        case .object(let properties, let index, let phase, let tools, let chosen):
            switch phase {
            case .keyOrClose, .key:
                if phase == .keyOrClose, b == UInt8(ascii: "}"), properties?.isEmpty ?? true {
                    pop()
                    return true
                }
                guard b == UInt8(ascii: "\"") else { return false }
                if let properties {
                    guard index < properties.count else { return false }
                    replaceTop(.object(properties: properties, index: index, phase: .commaOrClose, tools: tools, chosenTool: chosen))
                    var schema = properties[index].schema
                    if let tools, properties[index].name == "arguments", let chosen { schema = tools[chosen].parameters }
                    push(.exact(Array(properties[index].name.utf8) + Array("\":".utf8), then: schema))
                } else {
                    replaceTop(.object(properties: nil, index: index, phase: .colon, tools: nil, chosenTool: nil))
                    push(.string(StringState()))
                }
                return true
            case .colon:
                guard b == UInt8(ascii: ":") else { return false }
                replaceTop(.object(properties: nil, index: index, phase: .commaOrClose, tools: nil, chosenTool: nil))
                push(.value(.any))
                return true
            case .commaOrClose:
                let more = properties.map { index + 1 < $0.count } ?? true
                if b == UInt8(ascii: ","), more {
                    replaceTop(.object(properties: properties, index: index + 1, phase: .key, tools: tools, chosenTool: chosen))
                    return true
                }
                guard b == UInt8(ascii: "}"), properties.map({ index + 1 >= $0.count }) ?? true else { return false }
                pop()
                return true
            }
        case .array(let items, let first, let phase):
            if phase == .commaOrClose {
                if b == UInt8(ascii: ",") {
                    push(.value(items))
                    return true
                }
                guard b == UInt8(ascii: "]") else { return false }
                pop()
                return true
            }
            if first, b == UInt8(ascii: "]") {
                pop()
                return true
            }
            replaceTop(.array(items: items, first: false, phase: .commaOrClose))
            push(.value(items))
            return feed(b)
        default:
            return false
        }
    }

    private mutating func startValue(_ schema: JSONSchema, _ b: UInt8) -> Bool {
        func object(_ properties: [JSONSchema.Property]?, tools: [JSONSchema.Tool]? = nil) -> Bool {
            guard b == UInt8(ascii: "{"), stack.count < Self.maxDepth else { return false }
            replaceTop(.object(properties: properties, index: 0, phase: .keyOrClose, tools: tools, chosenTool: nil))
            return true
        }
        switch schema {
        case .any:
            switch b {
            case UInt8(ascii: "{"): return object(nil)
            case UInt8(ascii: "["): return startValue(.array(.any), b)
            case UInt8(ascii: "\""): return startValue(.string, b)
            case UInt8(ascii: "t"), UInt8(ascii: "f"): return startValue(.boolean, b)
            case UInt8(ascii: "n"): return startValue(.null, b)
            default: return startValue(.number, b)
            }
        case .anyObject: return object(nil)
        case .object(let properties): return object(properties)
        case .toolCall(let tools):
            let names = JSONSchema.oneOf(tools.map { "\"\($0.name)\"" })
            return object([.init(name: "name", schema: names), .init(name: "arguments", schema: .anyObject)], tools: tools)
        case .array(let items):
            guard b == UInt8(ascii: "["), stack.count < Self.maxDepth else { return false }
            replaceTop(.array(items: items, first: true, phase: .keyOrClose))
            return true
        case .string:
            guard b == UInt8(ascii: "\"") else { return false }
            replaceTop(.string(StringState()))
            return true
        case .number, .integer:
            let integerOnly = schema == .integer
            if b == UInt8(ascii: "-") {
                replaceTop(.number(.minus, integerOnly: integerOnly))
                return true
            }
            if b == UInt8(ascii: "0") {
                replaceTop(.number(.zero, integerOnly: integerOnly))
                return true
            }
            guard Self.isDigit(b) else { return false }
            replaceTop(.number(.integer, integerOnly: integerOnly))
            return true
        case .boolean:
            if b == UInt8(ascii: "t") {
                replaceTop(.exact(Array("rue".utf8), then: nil))
                return true
            }
            if b == UInt8(ascii: "f") {
                replaceTop(.exact(Array("alse".utf8), then: nil))
                return true
            }
            return false
        case .null:
            guard b == UInt8(ascii: "n") else { return false }
            replaceTop(.exact(Array("ull".utf8), then: nil))
            return true
        case .oneOf(let texts):
            replaceTop(.oneOf(texts.map { Array($0.utf8) }, matched: 0))
            return feed(b)
        }
    }

    private mutating func replaceTop(_ frame: Frame) { stack[stack.count - 1] = frame }
    private mutating func push(_ frame: Frame) { stack.append(frame) }

    /// Ends the top frame; a finished tool-name choice tells its object which tool it was.
    private mutating func pop(choice: [UInt8]? = nil) {
        stack.removeLast()
        guard let choice, case .object(let properties, let index, let phase, let tools?, _)? = stack.last else { return }
        let name = String(decoding: choice.dropFirst().dropLast(), as: UTF8.self)
        replaceTop(
            .object(
                properties: properties, index: index, phase: phase, tools: tools,
                chosenTool: tools.firstIndex { $0.name == name }))
    }

    private static func isNumeric(_ text: [UInt8]) -> Bool { text.first.map { isDigit($0) || $0 == UInt8(ascii: "-") } ?? false }

    /// Advances a string by one byte: nil if invalid, true when the closing quote came.
    private static func advance(_ s: inout StringState, _ b: UInt8) -> Bool? {
        if s.continuation > 0 {
            guard b >= s.low && b <= s.high else { return nil }
            (s.low, s.high) = (0x80, 0xBF)
            s.continuation -= 1
            return false
        }
        if s.hexRemaining > 0 {
            guard isDigit(b) || (b | 0x20 >= UInt8(ascii: "a") && b | 0x20 <= UInt8(ascii: "f")) else { return nil }
            s.hexRemaining -= 1
            return false
        }
        if s.escape {
            s.escape = false
            if b == UInt8(ascii: "u") {
                s.hexRemaining = 4
                return false
            }
            return Array("\"\\/bfnrt".utf8).contains(b) ? false : nil
        }
        switch b {
        case UInt8(ascii: "\""): return true
        case UInt8(ascii: "\\"): s.escape = true
        case 0x20..<0x80: break
        case 0xC2...0xDF: s.continuation = 1
        case 0xE0...0xEF: s.continuation = 2
        case 0xF0...0xF4: s.continuation = 3
        default: return nil  // control bytes, stray continuation bytes, invalid leads
        }
        switch b {  // Unicode's table of well-formed sequences
        case 0xE0: (s.low, s.high) = (0xA0, 0xBF)
        case 0xED: (s.low, s.high) = (0x80, 0x9F)
        case 0xF0: (s.low, s.high) = (0x90, 0xBF)
        case 0xF4: (s.low, s.high) = (0x80, 0x8F)
        default: break
        }
        return false
    }

    private static func advance(_ n: Number, _ b: UInt8, integerOnly: Bool) -> Number? {
        let digit = isDigit(b)
        let dot = !integerOnly && b == UInt8(ascii: ".")
        let exponent = !integerOnly && (b | 0x20) == UInt8(ascii: "e")
        switch n {
        case .minus: return b == UInt8(ascii: "0") ? .zero : digit ? .integer : nil
        case .zero: return dot ? .dot : exponent ? .exponent : nil
        case .integer: return digit ? .integer : dot ? .dot : exponent ? .exponent : nil
        case .dot: return digit ? .fraction : nil
        case .fraction: return digit ? .fraction : exponent ? .exponent : nil
        case .exponent: return b == UInt8(ascii: "+") || b == UInt8(ascii: "-") ? .exponentSign : digit ? .exponentDigits : nil
        case .exponentSign, .exponentDigits: return digit ? .exponentDigits : nil
        }
    }
}
