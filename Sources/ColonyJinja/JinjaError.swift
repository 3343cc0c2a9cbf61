/// Why a template could not be parsed or rendered. Messages follow jinja2's, so a template's
/// own checks (`raise_exception`) and its mistakes read the same as under Python.
public enum JinjaError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The template is not valid Jinja at `line`.
    case syntax(line: Int, String)
    /// Valid Jinja that Colony does not interpret: the construct, at `line`.
    case unsupported(line: Int, String)
    /// The template called `raise_exception(message)`.
    case raised(String)
    /// An undefined value was used (jinja2's `UndefinedError`).
    case undefined(String)
    /// An operation on values of the wrong type (Python's `TypeError`/`ValueError`).
    case type(String)
    /// The immutable sandbox refused an attribute (`list.append`).
    case security(String)

    /// The message alone, as jinja2's exception would print it.
    public var message: String {
        switch self {
        case .syntax(_, let m), .unsupported(_, let m), .raised(let m), .undefined(let m), .type(let m), .security(let m): m
        }
    }

    /// Python's exception class for this error.
    public var kind: String {
        switch self {
        case .syntax: "TemplateSyntaxError"
        case .unsupported: "Unsupported"
        case .raised: "TemplateError"
        case .undefined: "UndefinedError"
        case .type: "TypeError"
        case .security: "SecurityError"
        }
    }

    public var description: String {
        switch self {
        case .syntax(let line, let m): "template line \(line): \(m)"
        case .unsupported(let line, let m): "template line \(line): \(m) is not supported"
        default: message
        }
    }
}
