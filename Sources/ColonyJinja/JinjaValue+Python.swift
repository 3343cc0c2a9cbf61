import Foundation

/// Python's `str()`, `repr()`, `==`, ordering and arithmetic on template values.
extension JinjaValue {
    /// `str(value)` as jinja2 prints it; an undefined value prints as nothing.
    public var text: String {
        switch self {
        case .undefined: ""
        case .string(let s), .markup(let s): s
        default: repr
        }
    }

    /// Python's `repr()`.
    public var repr: String {
        switch self {
        case .undefined: ""
        case .none: "None"
        case .bool(let b): b ? "True" : "False"
        case .int(let i): String(i)
        case .double(let d): Self.pythonFloat(d)
        case .string(let s): Self.pythonRepr(s)
        case .array(let a): "[" + a.map(\.repr).joined(separator: ", ") + "]"
        case .generator: "<generator object sync_do_map at 0x0>"
        case .object(let o): "{" + o.pairs.map { JinjaObject.decode($0.0).repr + ": " + $0.1.repr }.joined(separator: ", ") + "}"
        case .markup(let s): "Markup(" + Self.pythonRepr(s) + ")"
        case .namespace: "<Namespace>"
        case .function(.macro(let m)): "<Macro '\(m.name)'>"
        case .function: "<built-in function>"
        }
    }

    /// Python's float repr, which Swift's description matches (shortest round-trip digits,
    /// `.0` on whole numbers, exponents below 1e-4 and from 1e16), but for nan and inf.
    static func pythonFloat(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d < 0 ? "-inf" : "inf" }
        return d.description
    }

    /// Python's `repr()` of a string: single quotes unless the text holds one and no double
    /// quote; backslash escapes for quotes, backslashes and control characters.
    static func pythonRepr(_ s: String) -> String {
        let quote: Character = s.contains("'") && !s.contains("\"") ? "\"" : "'"
        var out = String(quote)
        for u in s.unicodeScalars {
            switch u {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if Character(u) == quote {
                    out += "\\" + String(quote)
                } else if u.value < 0x20 || u.value == 0x7F {
                    out += "\\x" + hex(u.value, 2)
                } else if u.value >= 0x80, u.value < 0xA0 {
                    out += "\\x" + hex(u.value, 2)
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + String(quote)
    }

    static func hex(_ v: UInt32, _ width: Int) -> String {
        let h = String(v, radix: 16)
        return String(repeating: "0", count: max(0, width - h.count)) + h
    }

    /// Python's `==`.
    public func equals(_ other: JinjaValue) -> Bool {
        switch (plain, other.plain) {
        case (.undefined, .undefined), (.none, .none): return true
        case (.string(let a), .string(let b)): return a.unicodeScalars.elementsEqual(b.unicodeScalars)
        case (.array(let a), .array(let b)): return a.count == b.count && zip(a, b).allSatisfy { $0.equals($1) }
        case (.object(let a), .object(let b)):
            return a.count == b.count && a.pairs.allSatisfy { k, v in b[k].map { v.equals($0) } ?? false }
        case (.namespace(let a), .namespace(let b)): return a == b
        default:
            if let a = numeric, let b = other.numeric { return a == b }
            return false
        }
    }

    /// The value as a number, for arithmetic and comparison (bools count as 0 and 1).
    var numeric: Double? {
        switch self {
        case .bool(let b): b ? 1 : 0
        case .int(let i): Double(i)
        case .double(let d): d
        default: nil
        }
    }

    private var integer: Int? {
        switch self {
        case .bool(let b): b ? 1 : 0
        case .int(let i): i
        default: nil
        }
    }

    /// Python's `<`: numbers, strings and lists; anything else is a TypeError.
    public func less(than other: JinjaValue, op: String = "<") throws(JinjaError) -> Bool {
        switch (plain, other.plain) {
        case (.string(let a), .string(let b)): return a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars)
        case (.array(let a), .array(let b)):
            for (x, y) in zip(a, b) where !x.equals(y) { return try x.less(than: y, op: op) }
            return a.count < b.count
        default:
            if let x = numeric, let y = other.numeric { return x < y }
            try _ = defined()
            try _ = other.defined()
            throw .type("'\(op)' not supported between instances of '\(pythonType)' and '\(other.pythonType)'")
        }
    }

    /// A binary operator: `+ - * / // % **` with Python's rules, and `~` (string concatenation).
    func apply(_ op: String, _ rhs: JinjaValue) throws(JinjaError) -> JinjaValue {
        if op == "~" { return .string(text + rhs.text) }
        switch (op, self, rhs) {
        // Markup escapes the plain string it is joined with.
        case ("+", .markup(let a), .string(let b)): return .markup(a + JinjaInterpreter.escapeHTML(b))
        case ("+", .string(let a), .markup(let b)): return .markup(JinjaInterpreter.escapeHTML(a) + b)
        case ("+", .markup(let a), .markup(let b)): return .markup(a + b)
        default: break
        }
        let lhs = try defined().plain
        let rhs = try rhs.defined().plain
        switch (op, lhs, rhs) {
        case ("+", .string(let a), .string(let b)): return .string(a + b)
        case ("+", .array(let a), .array(let b)): return .array(a + b)
        case ("*", .string(let s), .int(let n)), ("*", .int(let n), .string(let s)):
            return .string(String(repeating: s, count: max(0, n)))
        case ("*", .array(let a), .int(let n)): return .array(Array(repeating: a, count: max(0, n)).flatMap { $0 })
        case ("%", .string(let format), _): return .string(try Self.percentFormat(format, rhs))
        default: break
        }
        if let a = lhs.integer, let b = rhs.integer {
            switch op {
            case "+": return .int(a + b)
            case "-": return .int(a - b)
            case "*": return .int(a * b)
            case "/":
                guard b != 0 else { throw .type("division by zero") }
                return .double(Double(a) / Double(b))
            case "//":
                guard b != 0 else { throw .type("integer division or modulo by zero") }
                return .int(Int((Double(a) / Double(b)).rounded(.down)))
            case "%":
                guard b != 0 else { throw .type("integer modulo by zero") }
                return .int(((a % b) + b) % b)
            case "**":
                if b >= 0 { return .int((0..<b).reduce(1) { r, _ in r * a }) }
                return .double(Foundation.pow(Double(a), Double(b)))
            default: break
            }
        }
        if let a = lhs.numeric, let b = rhs.numeric {
            switch op {
            case "+": return .double(a + b)
            case "-": return .double(a - b)
            case "*": return .double(a * b)
            case "/":
                guard b != 0 else { throw .type("float division by zero") }
                return .double(a / b)
            case "//": return .double((a / b).rounded(.down))
            case "%": return .double(a - b * (a / b).rounded(.down))
            case "**": return .double(Foundation.pow(a, b))
            default: break
            }
        }
        if op == "+", case .string = lhs {
            throw .type("can only concatenate str (not \"\(rhs.pythonType)\") to str")
        }
        if op == "+", case .array = lhs {
            throw .type("can only concatenate list (not \"\(rhs.pythonType)\") to list")
        }
        throw .type("unsupported operand type(s) for \(op): '\(lhs.pythonType)' and '\(rhs.pythonType)'")
    }

    /// `format % args` for `%s`, `%d`, `%r` and `%%`.
    static func percentFormat(_ format: String, _ args: JinjaValue) throws(JinjaError) -> String {
        var values: [JinjaValue]
        if case .array(let a) = args { values = a } else { values = [args] }
        var out = ""
        var chars = format.makeIterator()
        while let c = chars.next() {
            guard c == "%" else {
                out.append(c)
                continue
            }
            guard let spec = chars.next() else { throw .type("incomplete format") }
            if spec == "%" {
                out += "%"
                continue
            }
            guard !values.isEmpty else { throw .type("not enough arguments for format string") }
            let v = values.removeFirst()
            switch spec {
            case "s": out += v.text
            case "r": out += v.repr
            case "d", "i":
                guard let n = v.numeric else { throw .type("%\(spec) format: a real number is required, not \(v.pythonType)") }
                out += String(Int(n))
            default: throw .type("unsupported format character '\(spec)'")
            }
        }
        return out
    }
}
