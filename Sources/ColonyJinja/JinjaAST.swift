/// A parsed template statement, with the line it starts on for error messages.
struct Node: Sendable {
    enum Kind: Sendable {
        case text(String)
        case output(Expression)
        case conditional([(condition: Expression, body: [Node])], otherwise: [Node])
        case loop(Loop)
        case assign(Target, Expression)
        /// `{% set x %}…{% endset %}`, with optional filters on the captured text.
        case capture(Target, [Node], filters: [FilterCall])
        case macro(JinjaMacro)
        /// `{% filter f %}…{% endfilter %}`.
        case filtered([FilterCall], [Node])
        /// `{% call m(args) %}…{% endcall %}`: the body is `caller()` inside the macro.
        case call(Expression, Arguments, caller: JinjaMacro)
        case breakLoop
        case continueLoop
    }
    var kind: Kind
    var line: Int
}

/// A `{% for %}` loop.
struct Loop: Sendable {
    var target: Target
    var iterable: Expression
    var filter: Expression?
    var body: [Node]
    var otherwise: [Node]
    var recursive: Bool
}

/// Where `set` and `for` put values.
enum Target: Sendable {
    case name(String)
    case tuple([String])
    /// `ns.attr`: an attribute of a namespace.
    case attribute(String, String)
}

/// A filter in a chain: `|name(args)`.
struct FilterCall: Sendable {
    var name: String
    var arguments: Arguments
}

/// Positional and keyword arguments of a call, filter or test.
struct Arguments: Sendable {
    var positional: [Expression] = []
    var keyword: [(String, Expression)] = []
}

/// A parsed expression.
indirect enum Expression: Sendable {
    case literal(JinjaValue)
    case name(String)
    case list([Expression])
    case dict([(Expression, Expression)])
    case attribute(Expression, String)
    case item(Expression, Expression)
    case slice(Expression, Expression?, Expression?, Expression?)
    case call(Expression, Arguments)
    case filter(Expression, FilterCall)
    case test(Expression, String, Arguments, negated: Bool)
    case not(Expression)
    case negate(Expression)
    case binary(String, Expression, Expression)
    case and(Expression, Expression)
    case or(Expression, Expression)
    /// `a if condition else b` (`b` absent: undefined).
    case conditional(Expression, condition: Expression, otherwise: Expression?)
    /// Chained comparisons: `a < b <= c`.
    case compare(Expression, [(String, Expression)])
}
