/// JSON in and out of templates: `parse` keeps object key order (Python dicts do, and
/// templates print tools and arguments in it); `dumps` writes exactly what Python's
/// `json.dumps` does, which is what `tojson` is in Hugging Face's template environment.
public enum JinjaJSON {
    /// Parses JSON text into template values (integers stay integers, key order is kept).
    public static func parse(_ text: String) throws(JinjaError) -> JinjaValue {
        var parser = Parser(bytes: Array(text.utf8))
        parser.skipSpace()
        let v = try parser.value()
        parser.skipSpace()
        guard parser.i == parser.bytes.count else { throw parser.error("unexpected text after the JSON value") }
        return v
    }

    /// Python's `json.dumps(value, ensure_ascii=, indent=, separators=, sort_keys=)`.
    public static func dumps(
        _ value: JinjaValue, indent: JinjaValue? = nil, separators: (String, String)? = nil, sortKeys: Bool = false,
        ensureASCII: Bool = false, namespaces: [JinjaObject] = []
    ) throws(JinjaError) -> String {
        var indentText: String?
        switch indent {
        case .int(let n)?: indentText = String(repeating: " ", count: max(0, n))
        case .string(let s)?: indentText = s
        default: indentText = nil
        }
        let (item, key) = separators ?? (indentText == nil ? ", " : ",", ": ")
        var out = ""
        try write(value, to: &out, indent: indentText, level: 0, item: item, key: key, sortKeys: sortKeys, ascii: ensureASCII)
        return out
    }

    private static func write(
        _ value: JinjaValue, to out: inout String, indent: String?, level: Int, item: String, key: String, sortKeys: Bool, ascii: Bool
    ) throws(JinjaError) {
        func newline(_ depth: Int) {
            if let indent { out += "\n" + String(repeating: indent, count: depth) }
        }
        switch value {
        case .none: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d): out += d.isNaN ? "NaN" : d.isInfinite ? (d < 0 ? "-Infinity" : "Infinity") : JinjaValue.pythonFloat(d)
        case .string(let s), .markup(let s): quote(s, to: &out, ascii: ascii)
        case .array(let a):
            guard !a.isEmpty else {
                out += "[]"
                return
            }
            out += "["
            for (i, v) in a.enumerated() {
                if i > 0 { out += item }
                newline(level + 1)
                try write(v, to: &out, indent: indent, level: level + 1, item: item, key: key, sortKeys: sortKeys, ascii: ascii)
            }
            newline(level)
            out += "]"
        case .object(let o):
            guard !o.isEmpty else {
                out += "{}"
                return
            }
            out += "{"
            let keys = sortKeys ? o.keys.sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) } : o.keys
            for (i, k) in keys.enumerated() {
                if i > 0 { out += item }
                newline(level + 1)
                quote(JinjaObject.decode(k).text, to: &out, ascii: ascii)
                out += key
                try write(o[k]!, to: &out, indent: indent, level: level + 1, item: item, key: key, sortKeys: sortKeys, ascii: ascii)
            }
            newline(level)
            out += "}"
        case .undefined: throw .type("Object of type Undefined is not JSON serializable")
        case .generator: throw .type("Object of type generator is not JSON serializable")
        case .namespace: throw .type("Object of type Namespace is not JSON serializable")
        case .function: throw .type("Object of type function is not JSON serializable")
        }
    }

    private static func quote(_ s: String, to out: inout String, ascii: Bool) {
        out += "\""
        for c in s.unicodeScalars {
            switch c {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if c.value < 0x20 || (ascii && c.value > 0x7E) {
                    if c.value > 0xFFFF {
                        let v = c.value - 0x10000
                        out += "\\u" + JinjaValue.hex(0xD800 + (v >> 10), 4) + "\\u" + JinjaValue.hex(0xDC00 + (v & 0x3FF), 4)
                    } else {
                        out += "\\u" + JinjaValue.hex(c.value, 4)
                    }
                } else {
                    out.unicodeScalars.append(c)
                }
            }
        }
        out += "\""
    }

    private struct Parser {
        let bytes: [UInt8]
        var i = 0

        func error(_ why: String) -> JinjaError { .type("invalid JSON at byte \(i): \(why)") }

        mutating func skipSpace() {
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
        }

        mutating func literal(_ word: String, _ v: JinjaValue) throws(JinjaError) -> JinjaValue {
            guard bytes[i...].starts(with: Array(word.utf8)) else { throw error("expected a value") }
            i += word.utf8.count
            return v
        }

        mutating func value() throws(JinjaError) -> JinjaValue {
            guard i < bytes.count else { throw error("unexpected end") }
            switch bytes[i] {
            case UInt8(ascii: "{"):
                i += 1
                var o = JinjaObject()
                skipSpace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
                    i += 1
                    return .object(o)
                }
                while true {
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw error("expected a key") }
                    let k = try string()
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw error("expected ':'") }
                    i += 1
                    skipSpace()
                    o[k] = try value()
                    skipSpace()
                    guard i < bytes.count else { throw error("unexpected end") }
                    if bytes[i] == UInt8(ascii: ",") {
                        i += 1
                        continue
                    }
                    guard bytes[i] == UInt8(ascii: "}") else { throw error("expected ',' or '}'") }
                    i += 1
                    return .object(o)
                }
            case UInt8(ascii: "["):
                i += 1
                var a: [JinjaValue] = []
                skipSpace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
                    i += 1
                    return .array(a)
                }
                while true {
                    skipSpace()
                    a.append(try value())
                    skipSpace()
                    guard i < bytes.count else { throw error("unexpected end") }
                    if bytes[i] == UInt8(ascii: ",") {
                        i += 1
                        continue
                    }
                    guard bytes[i] == UInt8(ascii: "]") else { throw error("expected ',' or ']'") }
                    i += 1
                    return .array(a)
                }
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): return try literal("true", .bool(true))
            case UInt8(ascii: "f"): return try literal("false", .bool(false))
            case UInt8(ascii: "n"): return try literal("null", .none)
            default: return try number()
            }
        }

        mutating func number() throws(JinjaError) -> JinjaValue {
            let start = i
            var isDouble = false
            while i < bytes.count {
                let c = bytes[i]
                if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
                    isDouble = true
                } else if !(c == UInt8(ascii: "-") || c == UInt8(ascii: "+") || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9"))) {
                    break
                }
                i += 1
            }
            let text = String(decoding: bytes[start..<i], as: UTF8.self)
            if !isDouble, let n = Int(text) { return .int(n) }
            guard let d = Double(text) else { throw error("expected a value") }
            return .double(d)
        }

        mutating func string() throws(JinjaError) -> String {
            i += 1
            var out: [UInt8] = []
            while i < bytes.count, bytes[i] != UInt8(ascii: "\"") {
                guard bytes[i] == UInt8(ascii: "\\") else {
                    out.append(bytes[i])
                    i += 1
                    continue
                }
                i += 1
                guard i < bytes.count else { throw error("unexpected end in a string") }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "u"):
                    var v = try hex4()
                    if (0xD800..<0xDC00).contains(v), bytes[i...].starts(with: Array("\\u".utf8)) {
                        i += 2
                        let low = try hex4()
                        v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                    }
                    out.append(contentsOf: Array(String(Character(Unicode.Scalar(v) ?? "\u{FFFD}")).utf8))
                default: out.append(e)
                }
            }
            guard i < bytes.count else { throw error("a string is not closed") }
            i += 1
            return String(decoding: out, as: UTF8.self)
        }

        mutating func hex4() throws(JinjaError) -> UInt32 {
            guard i + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[i..<(i + 4)], as: UTF8.self), radix: 16) else {
                throw error("bad \\u escape")
            }
            i += 4
            return v
        }
    }
}
