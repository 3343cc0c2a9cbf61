/// Python methods of `str`, `dict` and `list` that templates call (`content.strip()`,
/// `message.get('tool_calls')`), on Unicode scalars as Python counts characters.
enum JinjaMethods {
    static let string: Set<String> = [
        "strip", "lstrip", "rstrip", "split", "rsplit", "splitlines", "startswith", "endswith", "replace", "lower", "upper",
        "title", "capitalize", "find", "rfind", "index", "rindex", "count", "join", "format", "isdigit", "isalpha", "isalnum",
        "isspace", "islower", "isupper", "partition", "rpartition", "removeprefix", "removesuffix", "casefold", "swapcase",
    ]
    static let dict: Set<String> = ["items", "keys", "values", "get", "copy"]
    static let list: Set<String> = ["index", "count", "copy"]
    /// Methods that change their receiver, which the immutable sandbox refuses.
    static let unsafe: [String: Set<String>] = [
        "dict": ["clear", "pop", "popitem", "setdefault", "update"],
        "list": ["append", "clear", "extend", "insert", "pop", "remove", "reverse", "sort"],
    ]

    static func call(_ name: String, on receiver: JinjaValue, _ args: [JinjaValue], _ kwargs: [String: JinjaValue]) throws(JinjaError)
        -> JinjaValue
    {
        switch receiver.plain {
        case .string(let s): return try stringMethod(name, PyString(s), args, kwargs)
        case .object(let o):
            switch name {
            case "items": return .array(o.pairs.map { .array([JinjaObject.decode($0.0), $0.1]) })
            case "keys": return .array(o.keyValues)
            case "values": return .array(o.pairs.map(\.1))
            case "get":
                guard let k = args.first.flatMap(JinjaObject.encode) else { return args.count > 1 ? args[1] : .none }
                return o[k] ?? (args.count > 1 ? args[1] : kwargs["default"] ?? .none)
            default: return receiver
            }
        case .array(let a):
            switch name {
            case "index":
                guard let needle = args.first, let i = a.firstIndex(where: { $0.equals(needle) }) else {
                    throw .type("\(args.first?.repr ?? "") is not in list")
                }
                return .int(i)
            case "count": return .int(a.filter { x in args.first.map { x.equals($0) } ?? false }.count)
            default: return receiver
            }
        default: throw .type("'\(receiver.pythonType)' object has no attribute '\(name)'")
        }
    }

    private static func stringArgument(_ args: [JinjaValue], _ i: Int, _ method: String) throws(JinjaError) -> PyString? {
        guard i < args.count else { return nil }
        switch args[i] {
        case .none: return nil
        case .string(let s): return PyString(s)
        default: throw .type("\(method) arg must be None or str")
        }
    }

    private static func stringMethod(_ name: String, _ s: PyString, _ args: [JinjaValue], _ kwargs: [String: JinjaValue]) throws(JinjaError)
        -> JinjaValue
    {
        switch name {
        case "strip", "lstrip", "rstrip":
            let chars = try stringArgument(args, 0, name)
            return .string(s.strip(chars, leading: name != "rstrip", trailing: name != "lstrip").string)
        case "split", "rsplit":
            let sep =
                try stringArgument(args, 0, name) ?? (kwargs["sep"].flatMap { if case .string(let x) = $0 { PyString(x) } else { nil } })
            let maxsplit = (args.count > 1 ? args[1] : kwargs["maxsplit"])?.intIndex ?? -1
            if let sep, sep.scalars.isEmpty { throw .type("empty separator") }
            let parts = name == "split" ? s.split(sep, maxsplit: maxsplit) : s.rsplit(sep, maxsplit: maxsplit)
            return .array(parts.map { .string($0.string) })
        case "splitlines":
            return .array(s.splitLines().map { .string($0.string) })
        case "startswith", "endswith":
            var candidates: [PyString] = []
            switch args.first {
            case .string(let p)?: candidates = [PyString(p)]
            case .array(let a)?:
                for v in a {
                    guard case .string(let p) = v else { throw .type("tuple for \(name) must only contain str") }
                    candidates.append(PyString(p))
                }
            default: throw .type("\(name) first arg must be str or a tuple of str")
            }
            return .bool(
                candidates.contains {
                    name == "startswith" ? s.scalars.starts(with: $0.scalars) : s.scalars.reversed().starts(with: $0.scalars.reversed())
                })
        case "replace":
            guard args.count >= 2, case .string(let old) = args[0], case .string(let new) = args[1] else {
                throw .type("replace() takes two strings")
            }
            return .string(s.replace(PyString(old), PyString(new), count: args.count > 2 ? args[2].intIndex ?? -1 : -1).string)
        case "lower": return .string(s.string.lowercased())
        case "upper": return .string(s.string.uppercased())
        case "casefold": return .string(s.string.lowercased())
        case "swapcase":
            return .string(
                String(
                    String.UnicodeScalarView(
                        s.scalars.flatMap { c -> [Unicode.Scalar] in
                            c.properties.isLowercase
                                ? Array(String(c).uppercased().unicodeScalars) : Array(String(c).lowercased().unicodeScalars)
                        })))
        case "title": return .string(s.title())
        case "capitalize":
            guard let first = s.scalars.first else { return .string("") }
            return .string(String(first).uppercased() + PyString(s.scalars.dropFirst()).string.lowercased())
        case "find", "rfind", "index", "rindex", "count":
            guard case .string(let sub)? = args.first else { throw .type("\(name)() must have a str argument") }
            let needle = PyString(sub)
            if name == "count" { return .int(s.count(needle)) }
            let at = name.hasSuffix("find") && name.first == "r" || name == "rindex" ? s.lastIndex(of: needle) : s.firstIndex(of: needle)
            if at == nil, name.hasSuffix("index") { throw .type("substring not found") }
            return .int(at ?? -1)
        case "join":
            guard let items = args.first else { throw .type("join() takes exactly one argument") }
            var parts: [String] = []
            switch items {
            case .array(let a), .generator(let a):
                for (i, v) in a.enumerated() {
                    guard case .string(let p) = v else { throw .type("sequence item \(i): expected str instance, \(v.pythonType) found") }
                    parts.append(p)
                }
            case .string(let x): parts = x.unicodeScalars.map { String($0) }
            default: throw .type("can only join an iterable")
            }
            return .string(parts.joined(separator: s.string))
        case "format": return .string(try s.format(args, kwargs))
        case "isdigit":
            return .bool(
                !s.scalars.isEmpty && s.scalars.allSatisfy { $0.properties.numericType == .decimal || $0.properties.numericType == .digit })
        case "isalpha": return .bool(!s.scalars.isEmpty && s.scalars.allSatisfy(\.properties.isAlphabetic))
        case "isalnum":
            return .bool(!s.scalars.isEmpty && s.scalars.allSatisfy { $0.properties.isAlphabetic || $0.properties.numericType != nil })
        case "isspace": return .bool(!s.scalars.isEmpty && s.scalars.allSatisfy(PyString.isSpace))
        case "islower":
            return .bool(s.scalars.contains(where: \.properties.isCased) && !s.scalars.contains(where: \.properties.isUppercase))
        case "isupper":
            return .bool(s.scalars.contains(where: \.properties.isCased) && !s.scalars.contains(where: \.properties.isLowercase))
        case "partition", "rpartition":
            guard case .string(let sep)? = args.first, !sep.isEmpty else { throw .type("empty separator") }
            let needle = PyString(sep)
            guard let at = name == "partition" ? s.firstIndex(of: needle) : s.lastIndex(of: needle) else {
                return .array(
                    name == "partition" ? [.string(s.string), .string(""), .string("")] : [.string(""), .string(""), .string(s.string)])
            }
            return .array([
                .string(PyString(s.scalars[..<at]).string), .string(sep),
                .string(PyString(s.scalars[(at + needle.scalars.count)...]).string),
            ])
        case "removeprefix", "removesuffix":
            guard case .string(let a)? = args.first else { throw .type("\(name)() argument must be str") }
            let x = PyString(a).scalars
            if name == "removeprefix", s.scalars.starts(with: x) { return .string(PyString(s.scalars.dropFirst(x.count)).string) }
            if name == "removesuffix", !x.isEmpty, s.scalars.reversed().starts(with: x.reversed()) {
                return .string(PyString(s.scalars.dropLast(x.count)).string)
            }
            return .string(s.string)
        default: throw .type("'str' object has no attribute '\(name)'")
        }
    }
}

/// A string as Python sees it: a sequence of Unicode scalars (Swift's characters would
/// join "\r\n" into one).
struct PyString {
    var scalars: [Unicode.Scalar]

    init(_ s: String) { scalars = Array(s.unicodeScalars) }
    init<S: Sequence>(_ s: S) where S.Element == Unicode.Scalar { scalars = Array(s) }

    var string: String { String(String.UnicodeScalarView(scalars)) }

    /// Python's `str.isspace` per character.
    static func isSpace(_ c: Unicode.Scalar) -> Bool { c.properties.isWhitespace || (0x1C...0x1F).contains(c.value) }

    func strip(_ chars: PyString?, leading: Bool, trailing: Bool) -> PyString {
        let drop: (Unicode.Scalar) -> Bool = chars.map { set in { set.scalars.contains($0) } } ?? Self.isSpace
        var lo = 0
        var hi = scalars.count
        if leading { while lo < hi, drop(scalars[lo]) { lo += 1 } }
        if trailing { while hi > lo, drop(scalars[hi - 1]) { hi -= 1 } }
        return PyString(scalars[lo..<hi])
    }

    func firstIndex(of needle: PyString, from: Int = 0) -> Int? {
        let n = needle.scalars.count
        guard n <= scalars.count else { return nil }
        if n == 0 { return from }
        var i = from
        while i + n <= scalars.count {
            if scalars[i] == needle.scalars[0], scalars[i..<(i + n)].elementsEqual(needle.scalars) { return i }
            i += 1
        }
        return nil
    }

    func lastIndex(of needle: PyString) -> Int? {
        let n = needle.scalars.count
        guard n <= scalars.count else { return nil }
        var i = scalars.count - n
        while i >= 0 {
            if scalars[i..<(i + n)].elementsEqual(needle.scalars) { return i }
            i -= 1
        }
        return nil
    }

    func contains(_ needle: PyString) -> Bool { firstIndex(of: needle) != nil }

    func count(_ needle: PyString) -> Int {
        if needle.scalars.isEmpty { return scalars.count + 1 }
        var n = 0
        var from = 0
        while let at = firstIndex(of: needle, from: from) {
            n += 1
            from = at + needle.scalars.count
        }
        return n
    }

    func replace(_ old: PyString, _ new: PyString, count: Int) -> PyString {
        var out: [Unicode.Scalar] = []
        var from = 0
        var done = 0
        if old.scalars.isEmpty {
            // Python inserts `new` between every character (and at both ends).
            for c in scalars where count < 0 || done < count {
                out += new.scalars
                out.append(c)
                done += 1
            }
            out += scalars[min(done, scalars.count)...]
            if count < 0 || done < count { out += new.scalars }
            return PyString(out)
        }
        while count < 0 || done < count, let at = firstIndex(of: old, from: from) {
            out += scalars[from..<at]
            out += new.scalars
            from = at + old.scalars.count
            done += 1
        }
        out += scalars[from...]
        return PyString(out)
    }

    func split(_ sep: PyString?, maxsplit: Int) -> [PyString] {
        guard let sep else {
            var parts: [PyString] = []
            var i = 0
            while true {
                while i < scalars.count, Self.isSpace(scalars[i]) { i += 1 }
                guard i < scalars.count else { break }
                if maxsplit >= 0, parts.count == maxsplit {
                    var end = scalars.count
                    while end > i, Self.isSpace(scalars[end - 1]) { end -= 1 }
                    parts.append(PyString(scalars[i..<end]))
                    break
                }
                let start = i
                while i < scalars.count, !Self.isSpace(scalars[i]) { i += 1 }
                parts.append(PyString(scalars[start..<i]))
            }
            return parts
        }
        var parts: [PyString] = []
        var from = 0
        while maxsplit < 0 || parts.count < maxsplit, let at = firstIndex(of: sep, from: from) {
            parts.append(PyString(scalars[from..<at]))
            from = at + sep.scalars.count
        }
        parts.append(PyString(scalars[from...]))
        return parts
    }

    func rsplit(_ sep: PyString?, maxsplit: Int) -> [PyString] {
        guard maxsplit >= 0 else { return split(sep, maxsplit: maxsplit) }
        let reversed = PyString(scalars.reversed())
        return reversed.split(sep.map { PyString($0.scalars.reversed()) }, maxsplit: maxsplit).reversed().map {
            PyString($0.scalars.reversed())
        }
    }

    func splitLines() -> [PyString] {
        var parts: [PyString] = []
        var start = 0
        var i = 0
        let breaks: Set<UInt32> = [0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029]
        while i < scalars.count {
            if breaks.contains(scalars[i].value) {
                parts.append(PyString(scalars[start..<i]))
                if scalars[i] == "\r", i + 1 < scalars.count, scalars[i + 1] == "\n" { i += 1 }
                start = i + 1
            }
            i += 1
        }
        if start < scalars.count { parts.append(PyString(scalars[start...])) }
        return parts
    }

    /// Python's `str.title()`: a cased character after an uncased one starts a word.
    func title() -> String {
        var out = ""
        var previousCased = false
        for c in scalars {
            out += previousCased ? String(c).lowercased() : String(c).uppercased()
            previousCased = c.properties.isCased
        }
        return out
    }

    /// `str.format` with `{}`, `{0}` and `{name}` fields (format specs are not supported).
    func format(_ args: [JinjaValue], _ kwargs: [String: JinjaValue]) throws(JinjaError) -> String {
        var out = ""
        var next = 0
        var i = 0
        while i < scalars.count {
            let c = scalars[i]
            if c == "{", i + 1 < scalars.count, scalars[i + 1] == "{" {
                out += "{"
                i += 2
                continue
            }
            if c == "}", i + 1 < scalars.count, scalars[i + 1] == "}" {
                out += "}"
                i += 2
                continue
            }
            guard c == "{" else {
                out.unicodeScalars.append(c)
                i += 1
                continue
            }
            guard let close = scalars[i...].firstIndex(of: "}") else { throw .type("Single '{' encountered in format string") }
            let field = PyString(scalars[(i + 1)..<close]).string
            if field.contains(":") || field.contains("!") { throw .type("format specs in str.format are not supported") }
            let value: JinjaValue?
            if field.isEmpty {
                value = next < args.count ? args[next] : nil
                next += 1
            } else if let n = Int(field) {
                value = n < args.count ? args[n] : nil
            } else {
                value = kwargs[field]
            }
            guard let value else {
                throw .type("Replacement index \(field.isEmpty ? String(next - 1) : field) out of range for positional args tuple")
            }
            out += value.text
            i = close + 1
        }
        return out
    }
}
