import Foundation

/// Converts a quantity between units of length, mass or time, from one short query
/// (`7 km in m`, `90 min to h`): the tool `colony mcp` serves and the `units` learning
/// family uses. One free-text argument rather than three fields, because small models copy
/// a phrase far more reliably than they fill a schema.
public struct UnitsTool: Tool {
    public let name = "convert"
    public let description = "Convert a quantity between units of length, mass or time, e.g. '7 km in m'."
    public let parametersJSON = #"{"type":"object","properties":{"query":{"type":"string"}}}"#
    public let isIdempotent = true

    public init() {}

    /// Each unit's size in its dimension's base unit (metre, gram, second).
    static let units: [String: (dimension: String, size: Double)] = [
        "mm": ("length", 0.001), "cm": ("length", 0.01), "m": ("length", 1), "km": ("length", 1000),
        "in": ("length", 0.0254), "ft": ("length", 0.3048), "mi": ("length", 1609.344),
        "g": ("mass", 1), "kg": ("mass", 1000), "lb": ("mass", 453.59237), "oz": ("mass", 28.349523125),
        "s": ("time", 1), "min": ("time", 60), "h": ("time", 3600), "day": ("time", 86_400), "week": ("time", 604_800),
    ]

    public func call(arguments: String) async throws -> String {
        struct Arguments: Decodable { let query: String }
        return try Self.convert(try decodeArguments(Arguments.self, arguments, tool: name).query)
    }

    /// `query` (`VALUE FROM in|to TO`) answered as a number, formatted as the calculator does.
    public static func convert(_ query: String) throws -> String {
        let words = query.lowercased().split(whereSeparator: \.isWhitespace).map(String.init)
        guard words.count == 4, ["in", "to"].contains(words[2]), let value = Double(words[0]), value.isFinite else {
            throw ToolError.failed(tool: "convert", message: "cannot read '\(query)': write it as VALUE UNIT in UNIT, e.g. '3 kg in g'")
        }
        guard let from = units[words[1]], let to = units[words[3]] else {
            let unknown = units[words[1]] == nil ? words[1] : words[3]
            throw ToolError.failed(
                tool: "convert", message: "unknown unit '\(unknown)'; units: \(units.keys.sorted().joined(separator: ", "))")
        }
        guard from.dimension == to.dimension else {
            throw ToolError.failed(
                tool: "convert", message: "cannot convert \(words[1]) (\(from.dimension)) to \(words[3]) (\(to.dimension))")
        }
        // Rounded to 9 significant digits so 7 km in m is 7000, not 6999.999999999.
        let result = Double(String(format: "%.9g", value * from.size / to.size))!
        return CalculatorTool.format(result)
    }
}
