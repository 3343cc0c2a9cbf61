import Foundation

/// Evaluates arithmetic with a real parser (never `eval`): numbers, + - * / ^ %, unary
/// minus, parentheses, and sqrt/abs/round. Grammar, loosest first:
///   sum := product (('+'|'-') product)*; product := power (('*'|'/'|'%') power)*;
///   power := unary ('^' power)?; unary := '-' unary | atom; atom := number | name '(' sum ')' | '(' sum ')'
public struct CalculatorTool: Tool {
    public let name = "calculator"
    public let description = "Evaluate an arithmetic expression, e.g. (17 * 23) - 4 / 2."
    public let parametersJSON = #"{"type":"object","properties":{"expression":{"type":"string"}}}"#
    public let isIdempotent = true

    public init() {}

    public func call(arguments: String) async throws -> String {
        struct Arguments: Decodable { let expression: String }
        let value = try Self.evaluate(try decodeArguments(Arguments.self, arguments, tool: name).expression)
        return Self.format(value)
    }

    /// The value of `expression`, or a `ToolError` naming the position of the problem.
    public static func evaluate(_ expression: String) throws -> Double {
        var parser = Parser(Array(expression.utf8))
        let value = try parser.sum()
        parser.skipSpaces()
        guard parser.index == parser.bytes.count else { throw parser.error("unexpected '\(parser.current)'") }
        guard value.isFinite else { throw ToolError.notFinite }
        return value
    }

    /// Integers without a fraction, others with up to 10 significant digits.
    public static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(format: "%.10g", value)
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0
        var depth = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var current: String { index < bytes.count ? String(UnicodeScalar(bytes[index])) : "end" }

        func error(_ what: String) -> ToolError { .syntax(problem: what, position: index + 1) }

        mutating func skipSpaces() { while index < bytes.count, bytes[index] == 0x20 { index += 1 } }

        mutating func take(_ c: Character) -> Bool {
            skipSpaces()
            guard index < bytes.count, bytes[index] == c.asciiValue! else { return false }
            index += 1
            return true
        }

        mutating func sum() throws -> Double {
            var value = try product()
            while true {
                if take("+") { value += try product() } else if take("-") { value -= try product() } else { return value }
            }
        }

        mutating func product() throws -> Double {
            var value = try power()
            while true {
                if take("*") {
                    value *= try power()
                } else if take("/") {
                    value /= try power()
                } else if take("%") {
                    value = value.truncatingRemainder(dividingBy: try power())
                } else {
                    return value
                }
            }
        }

        mutating func power() throws -> Double {
            let base = try unary()
            return take("^") ? pow(base, try power()) : base
        }

        mutating func unary() throws -> Double {
            if take("-") { return -(try unary()) }
            if take("+") { return try unary() }
            return try atom()
        }

        mutating func atom() throws -> Double {
            depth += 1
            defer { depth -= 1 }
            guard depth < 64 else { throw error("too deeply nested") }
            if take("(") {
                let v = try sum()
                guard take(")") else { throw error("expected ')'") }
                return v
            }
            skipSpaces()
            let start = index
            while index < bytes.count, bytes[index] >= 0x61 && bytes[index] <= 0x7A { index += 1 }
            if index > start {
                let name = String(decoding: bytes[start..<index], as: UTF8.self)
                guard take("(") else { throw error("expected '(' after \(name)") }
                let v = try sum()
                guard take(")") else { throw error("expected ')'") }
                switch name {
                case "sqrt": return sqrt(v)
                case "abs": return abs(v)
                case "round": return v.rounded()
                default: throw ToolError.unknownFunction(name)
                }
            }
            while index < bytes.count, (bytes[index] >= 0x30 && bytes[index] <= 0x39) || bytes[index] == 0x2E { index += 1 }
            guard index > start, let v = Double(String(decoding: bytes[start..<index], as: UTF8.self)) else {
                throw error(index < bytes.count ? "unexpected '\(current)'" : "expected a number")
            }
            return v
        }
    }
}
