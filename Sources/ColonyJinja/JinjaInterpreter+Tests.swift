/// jinja2's `is` tests.
extension JinjaInterpreter {
    func test(_ name: String, _ value: JinjaValue, _ args: [JinjaValue]) throws(JinjaError) -> Bool {
        let value = value.plain
        let other = args.first?.plain ?? .undefined("a test argument is missing")
        // Type tests: a name, and the values that pass it.
        switch (name, value) {
        case ("none", .none), ("boolean", .bool), ("true", .bool(true)), ("false", .bool(false)), ("integer", .int), ("float", .double),
            ("string", .string), ("mapping", .object), ("callable", .function),
            ("iterable", .string), ("iterable", .array), ("iterable", .generator), ("iterable", .object), ("iterable", .undefined),
            ("iterable", .namespace), ("sequence", .string), ("sequence", .array), ("sequence", .object), ("sequence", .undefined):
            return true
        case ("none", _), ("boolean", _), ("true", _), ("false", _), ("integer", _), ("float", _), ("string", _), ("mapping", _),
            ("callable", _), ("iterable", _), ("sequence", _):
            return false
        default: break
        }
        switch name {
        case "defined": return !value.isUndefined
        case "undefined": return value.isUndefined
        case "number": return value.numeric != nil
        case "sameas":
            switch (value, other) {
            case (.none, .none), (.undefined, .undefined): return true
            case (.bool(let a), .bool(let b)): return a == b
            case (.namespace(let a), .namespace(let b)): return a == b
            default: return false
            }
        case "escaped": return false
        case "lower": return try JinjaMethods.call("islower", on: .string(value.text), [], [:]).truthy
        case "upper": return try JinjaMethods.call("isupper", on: .string(value.text), [], [:]).truthy
        case "odd", "even":
            guard let i = value.intIndex else { throw .type("not all arguments converted during string formatting") }
            return (i & 1 == 1) == (name == "odd")
        case "divisibleby":
            guard let i = value.intIndex, let n = other.intIndex, n != 0 else { throw .type("divisibleby needs integers") }
            return i % n == 0
        case "eq", "equalto", "==": return value.equals(other)
        case "ne", "!=": return !value.equals(other)
        case "lt", "lessthan", "<": return try compare("<", value, other)
        case "le", "<=": return try compare("<=", value, other)
        case "gt", "greaterthan", ">": return try compare(">", value, other)
        case "ge", ">=": return try compare(">=", value, other)
        case "in": return try contains(other, value)
        default: throw .unsupported(line: line, "the test '\(name)'")
        }
    }
}
