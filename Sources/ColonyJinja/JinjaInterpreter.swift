import Foundation

/// Renders parsed statements: scopes (a loop body and a macro have their own, as in jinja2),
/// namespaces, macros and the output text.
struct JinjaInterpreter {
    /// Variables of a macro call (or the template): innermost scope last.
    private struct Frame {
        var scopes: [[String: JinjaValue]] = [[:]]
    }

    private enum Flow {
        case normal, breakLoop, continueLoop
    }

    private let context: JinjaObject
    let now: Date
    private var frames = [Frame()]
    /// The attributes of every `namespace()` made so far: `.namespace(i)` is `namespaces[i]`.
    var namespaces: [JinjaObject] = []
    private(set) var output = ""
    private(set) var line = 0

    init(context: JinjaObject, now: Date) {
        self.context = context
        self.now = now
    }

    mutating func run(_ nodes: [Node]) throws(JinjaError) {
        _ = try render(nodes)
    }

    // MARK: variables

    func lookup(_ name: String) -> JinjaValue {
        for scope in frames[frames.count - 1].scopes.reversed() { if let v = scope[name] { return v } }
        if frames.count > 1, let v = frames[0].scopes[0][name] { return v }
        if let v = context[name] { return v }
        if Self.globals.contains(name) { return .function(.builtin(name)) }
        return .missing(name)
    }

    static let globals: Set<String> = ["range", "namespace", "dict", "raise_exception", "strftime_now", "lipsum", "cycler", "joiner"]

    private mutating func assign(_ name: String, _ value: JinjaValue) {
        let f = frames.count - 1
        frames[f].scopes[frames[f].scopes.count - 1][name] = value
    }

    private mutating func assign(_ target: Target, _ value: JinjaValue) throws(JinjaError) {
        switch target {
        case .name(let n): assign(n, value)
        case .tuple(let names):
            let items = try iterate(value)
            guard items.count == names.count else {
                throw .type(
                    items.count > names.count
                        ? "too many values to unpack (expected \(names.count))"
                        : "not enough values to unpack (expected \(names.count), got \(items.count))")
            }
            for (n, v) in zip(names, items) { assign(n, v) }
        case .attribute(let n, let attr):
            guard case .namespace(let id) = lookup(n) else {
                throw .type("cannot assign attribute on non-namespace object")
            }
            namespaces[id][attr] = value
        }
    }

    // MARK: statements

    private mutating func render(_ nodes: [Node]) throws(JinjaError) -> Flow {
        for node in nodes {
            line = node.line
            switch node.kind {
            case .text(let t): output += t
            case .output(let e): output += try evaluate(e).text
            case .conditional(let branches, let otherwise):
                var taken = false
                for b in branches where try evaluate(b.condition).truthy {
                    taken = true
                    let flow = try render(b.body)
                    if flow != .normal { return flow }
                    break
                }
                if !taken {
                    let flow = try render(otherwise)
                    if flow != .normal { return flow }
                }
            case .loop(let loop): try run(loop)
            case .assign(let target, let e): try assign(target, try evaluate(e))
            case .capture(let target, let body, let filters):
                var value = JinjaValue.string(try capture(body))
                for f in filters { value = try applyFilter(f, to: value) }
                try assign(target, value)
            case .macro(let m): assign(m.name, .function(.macro(m)))
            case .filtered(let filters, let body):
                var value = JinjaValue.string(try capture(body))
                for f in filters { value = try applyFilter(f, to: value) }
                output += value.text
            case .call(let callee, let args, let caller):
                let f = try evaluate(callee)
                let (positional, keyword) = try evaluate(args)
                output += try invoke(f, positional, keyword.merging(["caller": .function(.macro(caller))]) { _, new in new }).text
            case .breakLoop: return .breakLoop
            case .continueLoop: return .continueLoop
            }
        }
        return .normal
    }

    /// Renders `body` into a string of its own instead of the output.
    private mutating func capture(_ body: [Node]) throws(JinjaError) -> String {
        let saved = output
        output = ""
        defer { output = saved }
        _ = try render(body)
        return output
    }

    private mutating func run(_ loop: Loop) throws(JinjaError) {
        let iterable = try evaluate(loop.iterable)
        var items = try iterate(iterable)
        if let filter = loop.filter {
            var kept: [JinjaValue] = []
            for item in items {
                frames[frames.count - 1].scopes.append([:])
                defer { frames[frames.count - 1].scopes.removeLast() }
                try assign(loop.target, item)
                if try evaluate(filter).truthy { kept.append(item) }
            }
            items = kept
        }
        guard !items.isEmpty else {
            _ = try render(loop.otherwise)
            return
        }
        let n = items.count
        for (i, item) in items.enumerated() {
            frames[frames.count - 1].scopes.append([:])
            defer { frames[frames.count - 1].scopes.removeLast() }
            let info = JinjaObject([
                ("index", .int(i + 1)), ("index0", .int(i)), ("revindex", .int(n - i)), ("revindex0", .int(n - i - 1)),
                ("first", .bool(i == 0)), ("last", .bool(i == n - 1)), ("length", .int(n)),
                ("previtem", i > 0 ? items[i - 1] : .undefined("there is no previous item")),
                ("nextitem", i < n - 1 ? items[i + 1] : .undefined("there is no next item")),
                ("depth", .int(1)), ("depth0", .int(0)), ("cycle", .function(.cycle(index: i))),
            ])
            assign("loop", .object(info))
            try assign(loop.target, item)
            if try render(loop.body) == .breakLoop { break }
        }
    }

    // MARK: expressions

    mutating func evaluate(_ e: Expression) throws(JinjaError) -> JinjaValue {
        switch e {
        case .literal(let v): return v
        case .name(let n): return lookup(n)
        case .list(let items):
            var out: [JinjaValue] = []
            for i in items { out.append(try evaluate(i)) }
            return .array(out)
        case .dict(let pairs):
            var o = JinjaObject()
            for (k, v) in pairs {
                let key = try evaluate(k)
                guard let s = JinjaObject.encode(key) else { throw .type("unhashable type: '\(key.pythonType)'") }
                o[s] = try evaluate(v)
            }
            return .object(o)
        case .attribute(let base, let name): return try attribute(of: try evaluate(base), name)
        case .item(let base, let index): return try item(of: try evaluate(base), try evaluate(index))
        case .slice(let base, let start, let stop, let step):
            let value = try evaluate(base)
            return try slice(
                value, start: try start.map { e throws(JinjaError) in try evaluate(e) },
                stop: try stop.map { e throws(JinjaError) in try evaluate(e) },
                step: try step.map { e throws(JinjaError) in try evaluate(e) })
        case .call(let callee, let args):
            let f = try evaluate(callee)
            let (positional, keyword) = try evaluate(args)
            return try invoke(f, positional, keyword)
        case .filter(let base, let f): return try applyFilter(f, to: try evaluate(base))
        case .test(let base, let name, let args, let negated):
            let value = try evaluate(base)
            let (positional, _) = try evaluate(args)
            return .bool(try test(name, value, positional) != negated)
        case .not(let x): return .bool(!(try evaluate(x).truthy))
        case .negate(let x):
            switch try evaluate(x).defined() {
            case .int(let i): return .int(-i)
            case .double(let d): return .double(-d)
            case .bool(let b): return .int(b ? -1 : 0)
            case let v: throw .type("bad operand type for unary -: '\(v.pythonType)'")
            }
        case .binary(let op, let l, let r): return try evaluate(l).apply(op, try evaluate(r))
        case .and(let l, let r):
            let a = try evaluate(l)
            return a.truthy ? try evaluate(r) : a
        case .or(let l, let r):
            let a = try evaluate(l)
            return a.truthy ? a : try evaluate(r)
        case .conditional(let then, let condition, let otherwise):
            if try evaluate(condition).truthy { return try evaluate(then) }
            return try otherwise.map { e throws(JinjaError) in try evaluate(e) }
                ?? .undefined("the inline if expression on line \(line) evaluated to false and no else section was defined.")
        case .compare(let first, let rest):
            var lhs = try evaluate(first)
            for (op, e) in rest {
                let rhs = try evaluate(e)
                guard try compare(op, lhs, rhs) else { return .bool(false) }
                lhs = rhs
            }
            return .bool(true)
        }
    }

    mutating func evaluate(_ args: Arguments) throws(JinjaError) -> ([JinjaValue], [String: JinjaValue]) {
        var positional: [JinjaValue] = []
        for a in args.positional { positional.append(try evaluate(a)) }
        var keyword: [String: JinjaValue] = [:]
        for (k, a) in args.keyword { keyword[k] = try evaluate(a) }
        return (positional, keyword)
    }

    func compare(_ op: String, _ a: JinjaValue, _ b: JinjaValue) throws(JinjaError) -> Bool {
        switch op {
        case "==": return a.equals(b)
        case "!=": return !a.equals(b)
        case "<": return try a.less(than: b, op: op)
        case ">": return try b.less(than: a, op: op)
        case "<=": return a.equals(b) ? true : try a.less(than: b, op: op)
        case ">=": return a.equals(b) ? true : try b.less(than: a, op: op)
        case "in": return try contains(b, a)
        case "not in": return try !contains(b, a)
        default: throw .type("unknown comparison '\(op)'")
        }
    }

    /// Python's `needle in haystack`.
    func contains(_ haystack: JinjaValue, _ needle: JinjaValue) throws(JinjaError) -> Bool {
        let needle = needle.plain
        switch haystack.plain {
        case .string(let s):
            guard case .string(let n) = needle else {
                throw .type("'in <string>' requires string as left operand, not \(needle.pythonType)")
            }
            return PyString(s).contains(PyString(n))
        case .array(let a), .generator(let a): return a.contains { $0.equals(needle) }
        case .object(let o): return JinjaObject.encode(needle).map { o[$0] != nil } ?? false
        case .undefined: return false
        default: throw .type("argument of type '\(haystack.pythonType)' is not iterable")
        }
    }

    /// The items a `for` loop visits: a list's items, a dict's keys, a string's characters.
    func iterate(_ value: JinjaValue) throws(JinjaError) -> [JinjaValue] {
        switch value.plain {
        case .array(let a), .generator(let a): return a
        case .object(let o): return o.keyValues
        case .string(let s): return s.unicodeScalars.map { .string(String($0)) }
        case .undefined: return []
        case .namespace(let id): return namespaces[id].keys.map { .string($0) }
        default: throw .type("'\(value.pythonType)' object is not iterable")
        }
    }

    // MARK: attributes and items

    /// `base.name`: like jinja2, a method of the type comes before a dict key of that name.
    func attribute(of base: JinjaValue, _ name: String) throws(JinjaError) -> JinjaValue {
        let base = base.plain
        switch base {
        case .undefined(let hint): throw .undefined(hint)
        case .object(let o):
            if JinjaMethods.dict.contains(name) { return .function(.method(base, name)) }
            if JinjaMethods.unsafe["dict"]!.contains(name) { return unsafe(name, "dict") }
            return o[name] ?? .undefined("'dict object' has no attribute '\(name)'")
        case .string:
            if JinjaMethods.string.contains(name) { return .function(.method(base, name)) }
            return .undefined("'str object' has no attribute '\(name)'")
        case .array:
            if JinjaMethods.list.contains(name) { return .function(.method(base, name)) }
            if JinjaMethods.unsafe["list"]!.contains(name) { return unsafe(name, "list") }
            return .undefined("'list object' has no attribute '\(name)'")
        case .namespace(let id):
            return namespaces[id][name] ?? .undefined("'Namespace object' has no attribute '\(name)'")
        case .none: return .undefined("'None' has no attribute '\(name)'")
        default: return .undefined("\(base.typeDescription) has no attribute '\(name)'")
        }
    }

    private func unsafe(_ name: String, _ type: String) -> JinjaValue {
        .function(.unsafe("access to attribute '\(name)' of '\(type)' object is unsafe."))
    }

    /// `base[index]`: a key first, then (for a string key) an attribute, as jinja2 does.
    func item(of base: JinjaValue, _ index: JinjaValue) throws(JinjaError) -> JinjaValue {
        let (base, index) = (base.plain, index.plain)
        switch (base, index) {
        case (.undefined(let hint), _): throw .undefined(hint)
        case (.object(let o), _):
            if let k = JinjaObject.encode(index), let v = o[k] { return v }
            guard case .string(let k) = index else { return .undefined("'dict object' has no attribute \(index.repr)") }
            return try attribute(of: base, k)
        case (.array(let a), _):
            guard let i = index.intIndex else { return .undefined("list object has no element \(index.repr)") }
            let j = i < 0 ? a.count + i : i
            return a.indices.contains(j) ? a[j] : .undefined("list object has no element \(i)")
        case (.string(let s), _):
            let scalars = Array(s.unicodeScalars)
            guard let i = index.intIndex else { return .undefined("str object has no element \(index.repr)") }
            let j = i < 0 ? scalars.count + i : i
            return scalars.indices.contains(j) ? .string(String(scalars[j])) : .undefined("str object has no element \(i)")
        case (.namespace, .string(let k)): return try attribute(of: base, k)
        case (.none, _): return .undefined("None has no element \(index.repr)")
        case (_, .string(let k)): return try attribute(of: base, k)
        default: return .undefined("\(base.typeDescription.replacing("'", with: "")) has no element \(index.repr)")
        }
    }

    /// Python's `value[start:stop:step]` on lists and strings.
    func slice(_ value: JinjaValue, start: JinjaValue?, stop: JinjaValue?, step: JinjaValue?) throws(JinjaError) -> JinjaValue {
        func bound(_ v: JinjaValue?) throws(JinjaError) -> Int? {
            guard let v, !(v.isNoneLike) else { return nil }
            guard let i = v.intIndex else { throw .type("slice indices must be integers or None or have an __index__ method") }
            return i
        }
        let step = try bound(step) ?? 1
        guard step != 0 else { throw .type("slice step cannot be zero") }
        let (start, stop) = (try bound(start), try bound(stop))
        func pick<T>(_ items: [T]) -> [T] {
            let n = items.count
            func clamp(_ i: Int?, _ dflt: Int, _ lo: Int, _ hi: Int) -> Int {
                guard var i else { return dflt }
                if i < 0 { i += n }
                return min(max(i, lo), hi)
            }
            var out: [T] = []
            if step > 0 {
                var i = clamp(start, 0, 0, n)
                let end = clamp(stop, n, 0, n)
                while i < end {
                    out.append(items[i])
                    i += step
                }
            } else {
                var i = clamp(start, n - 1, -1, n - 1)
                let end = clamp(stop, -1, -1, n - 1)
                while i > end {
                    out.append(items[i])
                    i += step
                }
            }
            return out
        }
        switch value {
        case .array(let a): return .array(pick(a))
        case .string(let s):
            var out = String.UnicodeScalarView()
            out.append(contentsOf: pick(Array(s.unicodeScalars)))
            return .string(String(out))
        case .undefined(let hint): throw .undefined(hint)
        default: throw .type("'\(value.pythonType)' object is not subscriptable")
        }
    }

    // MARK: calls

    mutating func invoke(_ f: JinjaValue, _ args: [JinjaValue], _ kwargs: [String: JinjaValue]) throws(JinjaError) -> JinjaValue {
        switch f {
        case .undefined(let hint): throw .undefined(hint)
        case .function(.builtin(let name)): return try callGlobal(name, args, kwargs)
        case .function(.method(let receiver, let name)): return try JinjaMethods.call(name, on: receiver, args, kwargs)
        case .function(.macro(let m)): return try call(m, args, kwargs)
        case .function(.cycle(let index)):
            guard !args.isEmpty else { throw .type("no items for cycling given") }
            return args[index % args.count]
        case .function(.unsafe(let message)): throw .security(message)
        default: throw .type("'\(f.pythonType)' object is not callable")
        }
    }

    private mutating func call(_ m: JinjaMacro, _ args: [JinjaValue], _ kwargs: [String: JinjaValue]) throws(JinjaError) -> JinjaValue {
        frames.append(Frame())
        defer { frames.removeLast() }
        var extra: [JinjaValue] = []
        var rest = kwargs
        for (i, p) in m.parameters.enumerated() {
            if i < args.count {
                assign(p.name, args[i])
            } else if let v = rest.removeValue(forKey: p.name) {
                assign(p.name, v)
            } else if let d = p.default {
                assign(p.name, try evaluate(d))
            } else {
                assign(p.name, .undefined("parameter '\(p.name)' was not provided"))
            }
        }
        if args.count > m.parameters.count { extra = Array(args[m.parameters.count...]) }
        if let caller = rest.removeValue(forKey: "caller") { assign("caller", caller) }
        assign("varargs", .array(extra))
        assign("kwargs", .object(JinjaObject(rest.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })))
        return .string(try capture(m.body))
    }

    private mutating func callGlobal(_ name: String, _ args: [JinjaValue], _ kwargs: [String: JinjaValue]) throws(JinjaError) -> JinjaValue
    {
        switch name {
        case "range":
            let ints = args.compactMap(\.intIndex)
            guard ints.count == args.count, (1...3).contains(ints.count) else { throw .type("range() takes 1 to 3 integers") }
            let (start, stop, step) = ints.count == 1 ? (0, ints[0], 1) : (ints[0], ints[1], ints.count == 3 ? ints[2] : 1)
            guard step != 0 else { throw .type("range() arg 3 must not be zero") }
            return .array(Swift.stride(from: start, to: stop, by: step).map { .int($0) })
        case "namespace", "dict":
            var o = JinjaObject()
            if case .object(let initial)? = args.first { o = initial }
            for (k, v) in kwargs.sorted(by: { $0.key < $1.key }) { o[k] = v }
            if name == "dict" { return .object(o) }
            namespaces.append(o)
            return .namespace(namespaces.count - 1)
        case "raise_exception":
            throw .raised(args.first?.text ?? "")
        case "strftime_now":
            guard case .string(let format)? = args.first else { throw .type("strftime_now() takes a format string") }
            return .string(Self.strftime(format, now))
        default:
            throw .unsupported(line: line, "the global '\(name)'")
        }
    }

    /// C's `strftime` in UTC (what Python's `datetime.strftime` calls).
    static func strftime(_ format: String, _ date: Date) -> String {
        var t = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&t, &parts)
        var buffer = [CChar](repeating: 0, count: 256)
        let n = Foundation.strftime(&buffer, buffer.count, format, &parts)
        return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension JinjaValue {
    /// An integer index (bools count, as in Python).
    var intIndex: Int? {
        switch self {
        case .int(let i): i
        case .bool(let b): b ? 1 : 0
        default: nil
        }
    }

    var isNoneLike: Bool {
        switch self {
        case .none, .undefined: true
        default: false
        }
    }
}
