/// jinja2's `is` tests.
extension JinjaInterpreter {
    func test(_ name: String, _ value: JinjaValue, _ args: [JinjaValue]) throws(JinjaError) -> Bool {
        let value = value.plain
        let other = args.first?.plain ?? .undefined("a test argument is missing")
        switch name {
        case "defined": return !value.isUndefined
        case "undefined": return value.isUndefined
        case "none":
            if case .none = value { return true }
            return false
        case "boolean":
            if case .bool = value { return true }
            return false
        case "true":
            if case .bool(true) = value { return true }
            return false
        case "false":
            if case .bool(false) = value { return true }
            return false
        case "integer":
            if case .int = value { return true }
            return false
        case "float":
            if case .double = value { return true }
            return false
        case "number": return value.numeric != nil
        case "string":
            if case .string = value { return true }
            return false
        case "mapping":
            if case .object = value { return true }
            return false
        case "iterable":
            switch value {
            case .string, .array, .generator, .object, .undefined, .namespace: return true
            default: return false
            }
        case "sequence":
            switch value {
            case .string, .array, .object, .undefined: return true
            default: return false
            }
        case "callable":
            if case .function = value { return true }
            return false
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
