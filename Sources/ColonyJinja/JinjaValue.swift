/// A value inside a template, with Python's semantics (what Jinja templates are written
/// against): `str()`, truthiness, equality and ordering follow CPython, so renders match
/// Python `jinja2` byte for byte.
public indirect enum JinjaValue: Sendable {
    /// A name or attribute that does not exist; the text is jinja2's hint ("'x' is
    /// undefined"), raised when the value is used in a way an undefined value cannot be.
    case undefined(String)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    /// A string marked safe (`|safe`): Python's `markupsafe.Markup`, which HTML-escapes plain
    /// strings concatenated to it, as some templates rely on.
    case markup(String)
    /// Python lists and tuples alike.
    case array([JinjaValue])
    /// What `map`, `select` and their kin return: iterable once in Python, with no length
    /// and no JSON form, which templates can observe.
    case generator([JinjaValue])
    /// A dict with string keys, in insertion order (as Python keeps them).
    case object(JinjaObject)
    /// A `namespace()`: mutable through `set ns.attr`, so it lives in the interpreter.
    case namespace(Int)
    case function(JinjaFunction)

    /// An undefined name.
    static func missing(_ name: String) -> JinjaValue { .undefined("'\(name)' is undefined") }

    public var isUndefined: Bool {
        if case .undefined = self { return true }
        return false
    }

    /// Python truthiness.
    public var truthy: Bool {
        switch self {
        case .undefined, .none: false
        case .bool(let b): b
        case .int(let i): i != 0
        case .double(let d): d != 0
        case .string(let s), .markup(let s): !s.isEmpty
        case .array(let a): !a.isEmpty
        case .object(let o): !o.isEmpty
        case .generator, .namespace, .function: true
        }
    }

    /// jinja2's name for the value's type in messages ("'dict object'").
    var typeDescription: String {
        switch self {
        case .undefined: "Undefined"
        case .none: "None"
        case .bool: "'bool object'"
        case .int: "'int object'"
        case .double: "'float object'"
        case .string: "'str object'"
        case .markup: "'Markup object'"
        case .array: "'list object'"
        case .generator: "'generator object'"
        case .object: "'dict object'"
        case .namespace: "'Namespace object'"
        case .function: "'function object'"
        }
    }

    /// Python's type name ("str", "NoneType") for TypeError messages.
    var pythonType: String {
        switch self {
        case .undefined: "Undefined"
        case .none: "NoneType"
        case .bool: "bool"
        case .int: "int"
        case .double: "float"
        case .string: "str"
        case .markup: "Markup"
        case .array: "list"
        case .generator: "generator"
        case .object: "dict"
        case .namespace: "Namespace"
        case .function: "function"
        }
    }

    /// A safe string as a plain one: what every operation but `+` and printing sees.
    var plain: JinjaValue {
        if case .markup(let s) = self { return .string(s) }
        return self
    }

    /// Raises the undefined value's error when it is used as a real value.
    func defined() throws(JinjaError) -> JinjaValue {
        if case .undefined(let hint) = self { throw .undefined(hint) }
        return self
    }
}

/// A dict with string keys that keeps insertion order.
public struct JinjaObject: Sendable {
    public private(set) var keys: [String] = []
    private var storage: [String: JinjaValue] = [:]

    public init() {}

    public init(_ pairs: [(String, JinjaValue)]) {
        for (k, v) in pairs { self[k] = v }
    }

    public var isEmpty: Bool { keys.isEmpty }
    public var count: Int { keys.count }

    public subscript(key: String) -> JinjaValue? {
        get { storage[key] }
        set {
            if storage[key] == nil, newValue != nil { keys.append(key) }
            if newValue == nil, storage[key] != nil { keys.removeAll { $0 == key } }
            storage[key] = newValue
        }
    }

    /// Key-value pairs in order.
    public var pairs: [(String, JinjaValue)] { keys.map { ($0, storage[$0]!) } }

    /// Keys as values: a template's dict literal may have integer keys (`{512: 128}`), which
    /// are stored under a text no string key can have.
    public var keyValues: [JinjaValue] { keys.map(Self.decode) }

    static func encode(_ key: JinjaValue) -> String? {
        switch key.plain {
        case .string(let s): s
        case .int(let i): "\u{0}int:\(i)"
        case .bool(let b): "\u{0}int:\(b ? 1 : 0)"
        case .none: "\u{0}none"
        default: nil
        }
    }

    static func decode(_ key: String) -> JinjaValue {
        guard key.hasPrefix("\u{0}") else { return .string(key) }
        if key == "\u{0}none" { return .none }
        return .int(Int(key.dropFirst(5)) ?? 0)
    }
}

/// Something a template can call.
public enum JinjaFunction: Sendable {
    /// A global: range, namespace, dict, raise_exception, strftime_now.
    case builtin(String)
    /// A Python method bound to its receiver (`s.strip`, `d.items`).
    case method(JinjaValue, String)
    case macro(JinjaMacro)
    /// `loop.cycle` of the loop at this index.
    case cycle(index: Int)
    /// A method the immutable sandbox refuses (`list.append`): calling it raises.
    case unsafe(String)
}

/// A `{% macro %}`: parameters with default expressions, and the body.
public final class JinjaMacro: Sendable {
    let name: String
    let parameters: [(name: String, default: Expression?)]
    let body: [Node]

    init(name: String, parameters: [(name: String, default: Expression?)], body: [Node]) {
        self.name = name
        self.parameters = parameters
        self.body = body
    }
}
