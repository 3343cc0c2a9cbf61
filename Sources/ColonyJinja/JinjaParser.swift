/// Parses tokens into statements and expressions, with jinja2's operator precedence
/// (lowest first): `if`-`else`, `or`, `and`, `not`, comparisons and `in`, `+` `-`, `~`,
/// `*` `/` `//` `%`, `**`, unary `-`, then filters and tests on a postfix expression.
struct JinjaParser {
    private let tokens: [Token]
    private var p = 0

    init(_ tokens: [Token]) { self.tokens = tokens }

    static func parse(_ source: String) throws(JinjaError) -> [Node] {
        var parser = JinjaParser(try JinjaLexer.tokenize(source))
        let (nodes, end) = try parser.statements(until: [])
        if let end { throw .syntax(line: parser.line, "unexpected '\(end)'") }
        return nodes
    }

    private var token: Token.Kind { tokens[p].kind }
    private var line: Int { tokens[p].line }

    private mutating func advance() { if p < tokens.count - 1 { p += 1 } }

    private func isName(_ n: String) -> Bool { token == .name(n) }
    private func isOp(_ o: String) -> Bool { token == .op(o) }

    private mutating func accept(name n: String) -> Bool {
        guard isName(n) else { return false }
        advance()
        return true
    }

    private mutating func accept(op o: String) -> Bool {
        guard isOp(o) else { return false }
        advance()
        return true
    }

    private mutating func expect(op o: String) throws(JinjaError) {
        guard accept(op: o) else { throw .syntax(line: line, "expected '\(o)', got \(describe(token))") }
    }

    private mutating func expect(_ kind: Token.Kind, _ what: String) throws(JinjaError) {
        guard token == kind else { throw .syntax(line: line, "expected \(what), got \(describe(token))") }
        advance()
    }

    private mutating func identifier() throws(JinjaError) -> String {
        guard case .name(let n) = token else { throw .syntax(line: line, "expected a name, got \(describe(token))") }
        advance()
        return n
    }

    private func describe(_ k: Token.Kind) -> String {
        switch k {
        case .text: "text"
        case .variableBegin: "'{{'"
        case .variableEnd: "'}}'"
        case .blockBegin: "'{%'"
        case .blockEnd: "'%}'"
        case .name(let n): "'\(n)'"
        case .string(let s): "string '\(s)'"
        case .int(let i): "\(i)"
        case .double(let d): "\(d)"
        case .op(let o): "'\(o)'"
        case .end: "end of template"
        }
    }

    // MARK: statements

    /// Statements up to a block tag whose keyword is in `ends` (returned, its tag's `%}` not
    /// yet consumed), or to the end of the template (nil).
    private mutating func statements(until ends: Set<String>) throws(JinjaError) -> ([Node], String?) {
        var nodes: [Node] = []
        while true {
            let at = line
            switch token {
            case .end:
                if !ends.isEmpty {
                    throw .syntax(
                        line: at, "unexpected end of template: expected \(ends.sorted().map { "'\($0)'" }.joined(separator: " or "))")
                }
                return (nodes, nil)
            case .text(let t):
                nodes.append(Node(kind: .text(t), line: at))
                advance()
            case .variableBegin:
                advance()
                let e = try expression()
                try expect(.variableEnd, "'}}'")
                nodes.append(Node(kind: .output(e), line: at))
            case .blockBegin:
                advance()
                let keyword = try identifier()
                if ends.contains(keyword) { return (nodes, keyword) }
                if let node = try statement(keyword, line: at) { nodes.append(node) }
            default:
                throw .syntax(line: at, "unexpected \(describe(token))")
            }
        }
    }

    private mutating func endTag() throws(JinjaError) { try expect(.blockEnd, "'%}'") }

    private mutating func statement(_ keyword: String, line at: Int) throws(JinjaError) -> Node? {
        switch keyword {
        case "if": return Node(kind: try conditional(), line: at)
        case "for": return Node(kind: .loop(try loop()), line: at)
        case "set": return Node(kind: try assignment(), line: at)
        case "macro": return Node(kind: .macro(try macro()), line: at)
        case "call": return Node(kind: try callBlock(), line: at)
        case "filter":
            let filters = try filterChain()
            try endTag()
            let (body, _) = try statements(until: ["endfilter"])
            try endTag()
            return Node(kind: .filtered(filters, body), line: at)
        case "generation":
            // Hugging Face's extension marks assistant text for training masks; it renders as is.
            try endTag()
            let (body, _) = try statements(until: ["endgeneration"])
            try endTag()
            return Node(kind: .conditional([(.literal(.bool(true)), body)], otherwise: []), line: at)
        case "break", "continue":
            try endTag()
            return Node(kind: keyword == "break" ? .breakLoop : .continueLoop, line: at)
        case "endraw":
            try endTag()
            return nil
        case "do":
            throw .unsupported(line: at, "the 'do' statement")
        case "include", "import", "from", "extends", "block", "with", "autoescape":
            throw .unsupported(line: at, "the '\(keyword)' statement")
        default:
            throw .syntax(line: at, "encountered unknown tag '\(keyword)'")
        }
    }

    private mutating func conditional() throws(JinjaError) -> Node.Kind {
        var branches: [(condition: Expression, body: [Node])] = []
        var condition = try expression()
        while true {
            try endTag()
            let (body, end) = try statements(until: ["elif", "else", "endif"])
            branches.append((condition, body))
            switch end {
            case "elif":
                condition = try expression()
            case "else":
                try endTag()
                let (otherwise, _) = try statements(until: ["endif"])
                try endTag()
                return .conditional(branches, otherwise: otherwise)
            default:
                try endTag()
                return .conditional(branches, otherwise: [])
            }
        }
    }

    private mutating func loop() throws(JinjaError) -> Loop {
        let target = try assignTarget()
        guard accept(name: "in") else { throw .syntax(line: line, "expected 'in' in a for loop, got \(describe(token))") }
        let iterable = try orExpression(allowConditional: false)
        var filter: Expression?
        if accept(name: "if") { filter = try expression() }
        let recursive = accept(name: "recursive")
        try endTag()
        let (body, end) = try statements(until: ["else", "endfor"])
        var otherwise: [Node] = []
        try endTag()
        if end == "else" {
            (otherwise, _) = try statements(until: ["endfor"])
            try endTag()
        }
        return Loop(target: target, iterable: iterable, filter: filter, body: body, otherwise: otherwise, recursive: recursive)
    }

    private mutating func assignTarget() throws(JinjaError) -> Target {
        let first = try identifier()
        if accept(op: ".") { return .attribute(first, try identifier()) }
        guard isOp(",") else { return .name(first) }
        var names = [first]
        while accept(op: ",") {
            guard case .name = token else { break }
            names.append(try identifier())
        }
        return .tuple(names)
    }

    private mutating func assignment() throws(JinjaError) -> Node.Kind {
        let target = try assignTarget()
        if accept(op: "=") {
            let value = try tupleExpression()
            try endTag()
            return .assign(target, value)
        }
        var filters: [FilterCall] = []
        if isOp("|") { filters = try filterChain() }
        try endTag()
        let (body, _) = try statements(until: ["endset"])
        try endTag()
        return .capture(target, body, filters: filters)
    }

    private mutating func parameters() throws(JinjaError) -> [(name: String, default: Expression?)] {
        var params: [(name: String, default: Expression?)] = []
        try expect(op: "(")
        while !accept(op: ")") {
            if !params.isEmpty { try expect(op: ",") }
            if accept(op: ")") { break }
            let name = try identifier()
            params.append((name, accept(op: "=") ? try expression() : nil))
        }
        return params
    }

    private mutating func macro() throws(JinjaError) -> JinjaMacro {
        let name = try identifier()
        let params = try parameters()
        try endTag()
        let (body, _) = try statements(until: ["endmacro"])
        if case .name = token { advance() }  // {% endmacro name %}
        try endTag()
        return JinjaMacro(name: name, parameters: params, body: body)
    }

    private mutating func callBlock() throws(JinjaError) -> Node.Kind {
        let params = isOp("(") ? try parameters() : []
        guard case .call(let callee, let arguments) = try expression() else { throw .syntax(line: line, "expected a call after 'call'") }
        try endTag()
        let (body, _) = try statements(until: ["endcall"])
        try endTag()
        return .call(callee, arguments, caller: JinjaMacro(name: "caller", parameters: params, body: body))
    }

    private mutating func filterChain() throws(JinjaError) -> [FilterCall] {
        var filters: [FilterCall] = []
        repeat {
            let name = try dottedName()
            filters.append(FilterCall(name: name, arguments: isOp("(") ? try callArguments() : Arguments()))
        } while accept(op: "|")
        return filters
    }

    private mutating func dottedName() throws(JinjaError) -> String {
        var name = try identifier()
        while accept(op: ".") { name += "." + (try identifier()) }
        return name
    }

    // MARK: expressions

    /// An expression, or several separated by commas (a tuple), as `set` allows.
    private mutating func tupleExpression() throws(JinjaError) -> Expression {
        let first = try expression()
        guard isOp(",") else { return first }
        var items = [first]
        while accept(op: ",") {
            if token == .blockEnd || token == .variableEnd { break }
            items.append(try expression())
        }
        return .list(items)
    }

    mutating func expression() throws(JinjaError) -> Expression { try orExpression(allowConditional: true) }

    private mutating func orExpression(allowConditional: Bool) throws(JinjaError) -> Expression {
        var e = try andExpression()
        while accept(name: "or") { e = .or(e, try andExpression()) }
        if allowConditional, accept(name: "if") {
            let condition = try orExpression(allowConditional: false)
            let otherwise = accept(name: "else") ? try expression() : nil
            return .conditional(e, condition: condition, otherwise: otherwise)
        }
        return e
    }

    private mutating func andExpression() throws(JinjaError) -> Expression {
        var e = try notExpression()
        while accept(name: "and") { e = .and(e, try notExpression()) }
        return e
    }

    private mutating func notExpression() throws(JinjaError) -> Expression {
        if accept(name: "not") { return .not(try notExpression()) }
        return try comparison()
    }

    private mutating func comparison() throws(JinjaError) -> Expression {
        let first = try additive()
        var rest: [(String, Expression)] = []
        while true {
            if case .op(let o) = token, ["==", "!=", "<", ">", "<=", ">="].contains(o) {
                advance()
                rest.append((o, try additive()))
            } else if accept(name: "in") {
                rest.append(("in", try additive()))
            } else if isName("not"), p + 1 < tokens.count, tokens[p + 1].kind == .name("in") {
                advance()
                advance()
                rest.append(("not in", try additive()))
            } else {
                break
            }
        }
        return rest.isEmpty ? first : .compare(first, rest)
    }

    private mutating func additive() throws(JinjaError) -> Expression {
        var e = try concatenation()
        while case .op(let o) = token, o == "+" || o == "-" {
            advance()
            e = .binary(o, e, try concatenation())
        }
        return e
    }

    private mutating func concatenation() throws(JinjaError) -> Expression {
        var e = try multiplicative()
        while accept(op: "~") { e = .binary("~", e, try multiplicative()) }
        return e
    }

    private mutating func multiplicative() throws(JinjaError) -> Expression {
        var e = try power()
        while case .op(let o) = token, ["*", "/", "//", "%"].contains(o) {
            advance()
            e = .binary(o, e, try power())
        }
        return e
    }

    private mutating func power() throws(JinjaError) -> Expression {
        var e = try unary(withFilters: true)
        while accept(op: "**") { e = .binary("**", e, try unary(withFilters: true)) }
        return e
    }

    private mutating func unary(withFilters: Bool) throws(JinjaError) -> Expression {
        var e: Expression
        if accept(op: "-") {
            e = .negate(try unary(withFilters: false))
        } else if accept(op: "+") {
            e = try unary(withFilters: false)
        } else {
            e = try postfix(try primary())
        }
        return withFilters ? try filtersAndTests(e) : e
    }

    private mutating func primary() throws(JinjaError) -> Expression {
        let at = line
        switch token {
        case .name(let n):
            advance()
            switch n {
            case "true", "True": return .literal(.bool(true))
            case "false", "False": return .literal(.bool(false))
            case "none", "None": return .literal(.none)
            default: return .name(n)
            }
        case .string(var s):
            advance()
            while case .string(let more) = token {
                s += more
                advance()
            }
            return .literal(.string(s))
        case .int(let i):
            advance()
            return .literal(.int(i))
        case .double(let d):
            advance()
            return .literal(.double(d))
        case .op("("):
            advance()
            if accept(op: ")") { return .list([]) }
            let first = try expression()
            if accept(op: ")") { return first }
            var items = [first]
            while accept(op: ",") {
                if isOp(")") { break }
                items.append(try expression())
            }
            try expect(op: ")")
            return .list(items)
        case .op("["):
            advance()
            var items: [Expression] = []
            while !accept(op: "]") {
                if !items.isEmpty { try expect(op: ",") }
                if accept(op: "]") { break }
                items.append(try expression())
            }
            return .list(items)
        case .op("{"):
            advance()
            var pairs: [(Expression, Expression)] = []
            while !accept(op: "}") {
                if !pairs.isEmpty { try expect(op: ",") }
                if accept(op: "}") { break }
                let key = try expression()
                try expect(op: ":")
                pairs.append((key, try expression()))
            }
            return .dict(pairs)
        default:
            throw .syntax(line: at, "unexpected \(describe(token))")
        }
    }

    private mutating func postfix(_ base: Expression) throws(JinjaError) -> Expression {
        var e = base
        while true {
            if accept(op: ".") {
                switch token {
                case .name(let n):
                    advance()
                    e = .attribute(e, n)
                case .int(let i):
                    advance()
                    e = .item(e, .literal(.int(i)))
                default:
                    throw .syntax(line: line, "expected an attribute name after '.', got \(describe(token))")
                }
            } else if accept(op: "[") {
                e = try subscriptOrSlice(e)
            } else if isOp("(") {
                e = .call(e, try callArguments())
            } else {
                return e
            }
        }
    }

    private mutating func subscriptOrSlice(_ base: Expression) throws(JinjaError) -> Expression {
        var parts: [Expression?] = [nil]
        var isSlice = false
        while !accept(op: "]") {
            if accept(op: ":") {
                isSlice = true
                parts.append(nil)
            } else {
                guard parts[parts.count - 1] == nil else { throw .syntax(line: line, "expected ']' or ':', got \(describe(token))") }
                parts[parts.count - 1] = try expression()
            }
        }
        guard isSlice else {
            guard let index = parts[0] else { throw .syntax(line: line, "expected an index inside '[]'") }
            return .item(base, index)
        }
        guard parts.count <= 3 else { throw .syntax(line: line, "a slice takes at most start:stop:step") }
        return .slice(base, parts[0], parts.count > 1 ? parts[1] : nil, parts.count > 2 ? parts[2] : nil)
    }

    private mutating func callArguments() throws(JinjaError) -> Arguments {
        try expect(op: "(")
        var args = Arguments()
        while !accept(op: ")") {
            if !args.positional.isEmpty || !args.keyword.isEmpty { try expect(op: ",") }
            if accept(op: ")") { break }
            if case .name(let n) = token, p + 1 < tokens.count, tokens[p + 1].kind == .op("=") {
                advance()
                advance()
                args.keyword.append((n, try expression()))
            } else if isOp("*") || isOp("**") {
                throw .unsupported(line: line, "'*args' and '**kwargs' in a call")
            } else {
                args.positional.append(try expression())
            }
        }
        return args
    }

    private mutating func filtersAndTests(_ base: Expression) throws(JinjaError) -> Expression {
        var e = base
        while true {
            if accept(op: "|") {
                let name = try dottedName()
                e = .filter(e, FilterCall(name: name, arguments: isOp("(") ? try callArguments() : Arguments()))
            } else if accept(name: "is") {
                let negated = accept(name: "not")
                let name = try dottedName()
                var args = Arguments()
                if isOp("(") {
                    args = try callArguments()
                } else if startsTestArgument {
                    args.positional = [try postfix(try primary())]
                }
                e = .test(e, name, args, negated: negated)
            } else if isOp("(") {
                e = .call(e, try callArguments())
            } else {
                return e
            }
        }
    }

    /// jinja2 takes one argument without parentheses after a test name (`is divisibleby 3`).
    private var startsTestArgument: Bool {
        switch token {
        case .string, .int, .double, .op("["), .op("{"): true
        case .name(let n): !["else", "or", "and", "if", "in", "not", "is"].contains(n)
        default: false
        }
    }
}

extension Token.Kind {
    static func == (lhs: Token.Kind, rhs: Token.Kind) -> Bool {
        switch (lhs, rhs) {
        case (.text(let a), .text(let b)), (.name(let a), .name(let b)), (.string(let a), .string(let b)), (.op(let a), .op(let b)): a == b
        case (.int(let a), .int(let b)): a == b
        case (.double(let a), .double(let b)): a == b
        case (.variableBegin, .variableBegin), (.variableEnd, .variableEnd), (.blockBegin, .blockBegin), (.blockEnd, .blockEnd),
            (.end, .end):
            true
        default: false
        }
    }
}
