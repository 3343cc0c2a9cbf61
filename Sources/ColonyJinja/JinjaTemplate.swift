import Foundation

/// A parsed Jinja template, rendered as Hugging Face's `apply_chat_template` renders chat
/// templates with Python `jinja2`: an immutable sandbox with `trim_blocks`, `lstrip_blocks`
/// and loop controls; `tojson` keeps non-ASCII; `raise_exception(msg)` and
/// `strftime_now(format)` are globals.
///
/// ```swift
/// let template = try JinjaTemplate(source)
/// let prompt = try template.render(["messages": messages, "add_generation_prompt": .bool(true)])
/// ```
public struct JinjaTemplate: Sendable {
    let nodes: [Node]

    /// Parses `source`; a syntax error or an unsupported construct names its line.
    public init(_ source: String) throws(JinjaError) {
        nodes = try JinjaParser.parse(source)
    }

    /// The rendered text for `context` (its keys are the template's variables). `now` is what
    /// `strftime_now` formats: by default `SOURCE_DATE_EPOCH` when set (reproducible renders),
    /// else the current time.
    public func render(_ context: JinjaObject, now: Date = JinjaTemplate.now()) throws(JinjaError) -> String {
        var interpreter = JinjaInterpreter(context: context, now: now)
        try interpreter.run(nodes)
        return interpreter.output
    }

    /// `SOURCE_DATE_EPOCH` (seconds since 1970) when set and valid, else the current time.
    public static func now(environment: [String: String] = ProcessInfo.processInfo.environment) -> Date {
        if let epoch = environment["SOURCE_DATE_EPOCH"].flatMap(Int.init) { return Date(timeIntervalSince1970: TimeInterval(epoch)) }
        return Date()
    }
}
