import Foundation

/// jinja2's built-in filters that chat templates use, with Hugging Face's `tojson`.
extension JinjaInterpreter {
    mutating func applyFilter(_ f: FilterCall, to value: JinjaValue) throws(JinjaError) -> JinjaValue {
        let (args, kwargs) = try evaluate(f.arguments)
        return try filter(f.name, value, args, kwargs)
    }

    mutating func filter(_ name: String, _ value: JinjaValue, _ args: [JinjaValue], _ kwargs: [String: JinjaValue]) throws(JinjaError)
        -> JinjaValue
    {
        // Markup stays markup through the filters that keep text as it is (Markup methods do);
        // every other filter sees a plain string.
        if case .markup(let s) = value {
            switch name {
            case "safe", "e", "escape": return value
            case "string", "trim", "lower", "upper", "capitalize", "title":
                return .markup(try filter(name, .string(s), args, kwargs).text)
            default: return try filter(name, .string(s), args, kwargs)
            }
        }
        func arg(_ i: Int, _ key: String) -> JinjaValue? { i < args.count ? args[i] : kwargs[key] }
        switch name {
        case "default", "d":
            let fallback = arg(0, "default_value") ?? .string("")
            let boolean = arg(1, "boolean")?.truthy ?? false
            return value.isUndefined || (boolean && !value.truthy) ? fallback : value
        case "length", "count": return .int(try length(value))
        case "string": return .string(value.text)
        case "safe": return .markup(value.text)
        case "trim":
            let chars: PyString? = if case .string(let c)? = arg(0, "chars") { PyString(c) } else { nil }
            return .string(PyString(value.text).strip(chars, leading: true, trailing: true).string)
        case "lower": return .string(value.text.lowercased())
        case "upper": return .string(value.text.uppercased())
        case "capitalize": return try JinjaMethods.call("capitalize", on: .string(value.text), [], [:])
        case "title": return .string(Self.titleFilter(value.text))
        case "replace":
            guard case .string(let old)? = arg(0, "old"), case .string(let new)? = arg(1, "new") else {
                throw .type("replace() needs two strings")
            }
            let count = arg(2, "count")?.intIndex ?? -1
            return .string(PyString(value.text).replace(PyString(old), PyString(new), count: count).string)
        case "tojson":
            let indent = arg(0, "indent")
            let ensureASCII = kwargs["ensure_ascii"]?.truthy ?? false
            let sortKeys = kwargs["sort_keys"]?.truthy ?? false
            var separators: (String, String)?
            if case .array(let s)? = kwargs["separators"], s.count == 2 { separators = (s[0].text, s[1].text) }
            return .string(
                try JinjaJSON.dumps(
                    value, indent: indent, separators: separators, sortKeys: sortKeys, ensureASCII: ensureASCII, namespaces: namespaces))
        case "join":
            let separator = arg(0, "d")?.text ?? ""
            var items = try iterate(value)
            if let attribute = arg(1, "attribute") { items = try items.map { v throws(JinjaError) in try path(v, attribute) } }
            return .string(items.map(\.text).joined(separator: separator))
        case "list": return .array(try iterate(value))
        case "items":
            switch value {
            case .undefined: return .array([])
            case .object(let o): return .array(o.pairs.map { .array([JinjaObject.decode($0.0), $0.1]) })
            default: throw .type("Can only get item pairs from a mapping.")
            }
        case "dictsort":
            guard case .object(let o) = value else { throw .type("You can only sort by either \"key\" or \"value\"") }
            let caseSensitive = arg(0, "case_sensitive")?.truthy ?? false
            let byValue = arg(1, "by")?.text == "value"
            let reverse = arg(2, "reverse")?.truthy ?? false
            var sorted: [(String, JinjaValue)] = []
            for pair in o.pairs { sorted.append(pair) }
            try sortStable(&sorted) { a, b throws(JinjaError) in
                let (x, y) = byValue ? (a.1, b.1) : (JinjaObject.decode(a.0), JinjaObject.decode(b.0))
                return try Self.sortKey(x, caseSensitive).less(than: Self.sortKey(y, caseSensitive))
            }
            if reverse { sorted.reverse() }
            return .array(sorted.map { .array([JinjaObject.decode($0.0), $0.1]) })
        case "sort":
            var items = try iterate(value)
            let reverse = arg(0, "reverse")?.truthy ?? false
            let caseSensitive = arg(1, "case_sensitive")?.truthy ?? false
            let attribute = arg(2, "attribute")
            var keyed: [(JinjaValue, JinjaValue)] = []
            for v in items {
                keyed.append((Self.sortKey(try attribute.map { a throws(JinjaError) in try path(v, a) } ?? v, caseSensitive), v))
            }
            try sortStable(&keyed) { a, b throws(JinjaError) in reverse ? try b.0.less(than: a.0) : try a.0.less(than: b.0) }
            items = keyed.map(\.1)
            return .array(items)
        case "unique":
            let caseSensitive = arg(0, "case_sensitive")?.truthy ?? false
            let attribute = arg(1, "attribute")
            var seen: [JinjaValue] = []
            var out: [JinjaValue] = []
            for v in try iterate(value) {
                let key = Self.sortKey(try attribute.map { a throws(JinjaError) in try path(v, a) } ?? v, caseSensitive)
                if !seen.contains(where: { $0.equals(key) }) {
                    seen.append(key)
                    out.append(v)
                }
            }
            return .generator(out)
        case "min", "max":
            let caseSensitive = arg(0, "case_sensitive")?.truthy ?? false
            let attribute = arg(1, "attribute")
            var best: (JinjaValue, JinjaValue)?
            for v in try iterate(value) {
                let key = Self.sortKey(try attribute.map { a throws(JinjaError) in try path(v, a) } ?? v, caseSensitive)
                if let b = best {
                    let better = name == "min" ? try key.less(than: b.0) : try b.0.less(than: key)
                    if better { best = (key, v) }
                } else {
                    best = (key, v)
                }
            }
            return best?.1 ?? .undefined("No aggregated item, sequence was empty.")
        case "first":
            if case .undefined(let hint) = value { throw .undefined(hint) }
            return try iterate(value).first ?? .undefined("No first item, sequence was empty.")
        case "last":
            if case .undefined(let hint) = value { throw .undefined(hint) }
            return try iterate(value).last ?? .undefined("No last item, sequence was empty.")
        case "reverse":
            if case .string(let s) = value { return .string(PyString(s.unicodeScalars.reversed()).string) }
            return .generator(try iterate(value).reversed())
        case "map":
            guard value.truthy else { return .generator([]) }
            let items = try iterate(value)
            if let attribute = kwargs["attribute"] {
                let fallback = kwargs["default"]
                return .generator(
                    try items.map { v throws(JinjaError) in
                        let x = try path(v, attribute)
                        if let fallback, x.isUndefined { return fallback }
                        return x
                    })
            }
            guard case .string(let filterName)? = args.first else { throw .type("map requires a filter argument") }
            var out: [JinjaValue] = []
            for v in items { out.append(try filter(filterName, v, Array(args.dropFirst()), kwargs)) }
            return .generator(out)
        case "select", "reject", "selectattr", "rejectattr":
            // jinja2 yields nothing for a falsy sequence (None included) instead of iterating it.
            guard value.truthy else { return .generator([]) }
            let byAttribute = name.hasSuffix("attr")
            let keep = name.hasPrefix("select")
            let rest = byAttribute ? Array(args.dropFirst()) : args
            var out: [JinjaValue] = []
            for v in try iterate(value) {
                let subject = byAttribute ? try path(v, args.first ?? .string("")) : v
                let passed: Bool
                if case .string(let testName)? = rest.first {
                    passed = try test(testName, subject, Array(rest.dropFirst()))
                } else {
                    passed = subject.truthy
                }
                if passed == keep { out.append(v) }
            }
            return .generator(out)
        case "int":
            let fallback = arg(0, "default") ?? .int(0)
            switch value {
            case .int: return value
            case .bool(let b): return .int(b ? 1 : 0)
            case .double(let d): return d.isFinite ? .int(Int(d)) : fallback
            case .string(let s):
                let t = s.trimmingPythonSpace()
                if let i = Int(t.replacing("_", with: "")) { return .int(i) }
                if let d = Double(t), d.isFinite { return .int(Int(d)) }
                return fallback
            default: return fallback
            }
        case "float":
            let fallback = arg(0, "default") ?? .double(0)
            switch value {
            case .int(let i): return .double(Double(i))
            case .bool(let b): return .double(b ? 1 : 0)
            case .double: return value
            case .string(let s): return Double(s.trimmingPythonSpace()).map { .double($0) } ?? fallback
            default: return fallback
            }
        case "abs":
            switch try value.defined() {
            case .int(let i): return .int(Swift.abs(i))
            case .double(let d): return .double(Swift.abs(d))
            case .bool(let b): return .int(b ? 1 : 0)
            default: throw .type("bad operand type for abs(): '\(value.pythonType)'")
            }
        case "round":
            guard let x = value.numeric else { throw .type("type \(value.pythonType) doesn't define __round__ method") }
            let precision = arg(0, "precision")?.intIndex ?? 0
            let method = arg(1, "method")?.text ?? "common"
            let scale = Foundation.pow(10.0, Double(precision))
            let rule: FloatingPointRoundingRule = method == "ceil" ? .up : method == "floor" ? .down : .toNearestOrAwayFromZero
            return .double((x * scale).rounded(rule) / scale)
        case "indent":
            let width = arg(0, "width") ?? .int(4)
            let first = arg(1, "first")?.truthy ?? false
            let blank = arg(2, "blank")?.truthy ?? false
            let indention: String = if case .string(let s) = width { s } else { String(repeating: " ", count: width.intIndex ?? 4) }
            let lines = PyString(value.text + "\n").splitLines().map(\.string)
            var out: String
            if blank {
                out = lines.joined(separator: "\n" + indention)
            } else {
                out = lines.first ?? ""
                if lines.count > 1 { out += "\n" + lines.dropFirst().map { $0.isEmpty ? $0 : indention + $0 }.joined(separator: "\n") }
            }
            return .string(first ? indention + out : out)
        case "e", "escape": return .markup(Self.escapeHTML(value.text))
        case "center":
            let width = arg(0, "width")?.intIndex ?? 80
            let s = PyString(value.text).scalars
            guard width > s.count else { return .string(value.text) }
            let total = width - s.count
            let left = total / 2 + (total & width & 1)
            return .string(String(repeating: " ", count: left) + value.text + String(repeating: " ", count: total - left))
        case "wordcount":
            var n = 0
            var inWord = false
            for c in value.text.unicodeScalars {
                let word = c.properties.isAlphabetic || c.properties.numericType != nil || c == "_"
                if word, !inWord { n += 1 }
                inWord = word
            }
            return .int(n)
        case "sum":
            let attribute = arg(0, "attribute")
            var total = arg(1, "start") ?? .int(0)
            for v in try iterate(value) { total = try total.apply("+", try attribute.map { a throws(JinjaError) in try path(v, a) } ?? v) }
            return total
        case "attr":
            guard case .string(let a)? = args.first else { throw .type("attr() needs a name") }
            return try attribute(of: value, a)
        case "format":
            return .string(try JinjaValue.percentFormat(value.text, .array(args)))
        default:
            throw .unsupported(line: line, "the filter '\(name)'")
        }
    }

    /// `len()`.
    func length(_ value: JinjaValue) throws(JinjaError) -> Int {
        switch value.plain {
        case .undefined: 0
        case .string(let s): s.unicodeScalars.count
        case .array(let a): a.count
        case .object(let o): o.count
        case .namespace(let id): namespaces[id].count
        default: throw .type("object of type '\(value.pythonType)' has no len()")
        }
    }

    /// An item's attribute by jinja2's dotted path (`"function.name"`, or an index).
    func path(_ value: JinjaValue, _ attribute: JinjaValue) throws(JinjaError) -> JinjaValue {
        guard case .string(let dotted) = attribute else { return try item(of: value, attribute) }
        var v = value
        for part in dotted.split(separator: ".", omittingEmptySubsequences: false) {
            v = try item(of: v, Int(part).map { .int($0) } ?? .string(String(part)))
        }
        return v
    }

    static func sortKey(_ v: JinjaValue, _ caseSensitive: Bool) -> JinjaValue {
        if !caseSensitive, case .string(let s) = v { return .string(s.lowercased()) }
        return v
    }

    /// jinja2's `title` filter: each word (split at whitespace and `-([{<`) capitalized.
    static func titleFilter(_ s: String) -> String {
        var out = ""
        var atStart = true
        for c in s.unicodeScalars {
            let boundary = PyString.isSpace(c) || "-([{<".unicodeScalars.contains(c)
            out += atStart && !boundary ? String(c).uppercased() : boundary ? String(c) : String(c).lowercased()
            atStart = boundary
        }
        return out
    }

    static func escapeHTML(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&#34;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}

/// Sorts in place keeping equal elements in order (Python's sort is stable), with a
/// comparison that may throw (mixed types).
func sortStable<T>(_ items: inout [T], by less: (T, T) throws(JinjaError) -> Bool) throws(JinjaError) {
    // Insertion sort: template lists are short, and it needs no rethrowing sort.
    for i in items.indices.dropFirst() {
        var j = i
        while j > 0, try less(items[j], items[j - 1]) {
            items.swapAt(j, j - 1)
            j -= 1
        }
    }
}

extension String {
    func trimmingPythonSpace() -> String { PyString(self).strip(nil, leading: true, trailing: true).string }
}
