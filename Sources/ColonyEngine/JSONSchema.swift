import Foundation

/// The part of JSON Schema that constrained decoding enforces: types, object properties,
/// array items and enums.
///
/// An object's listed properties are all emitted, sorted by name, and no others: the output is
/// valid for the schema whether or not a property is `required`. Keywords outside this
/// subset are refused when parsing, so nothing is silently ignored.
public indirect enum JSONSchema: Sendable, Equatable, Codable {
    /// Any JSON value.
    case any
    /// An object with any keys and values.
    case anyObject
    case object([Property])
    case array(JSONSchema)
    case string
    case number
    case integer
    case boolean
    case null
    /// One of these values, each given as its JSON text (`"red"`, `3`, `true`).
    case oneOf([String])
    /// `{"name": <one of the tools>, "arguments": <that tool's parameters>}`.
    case toolCall([Tool])

    public struct Property: Sendable, Equatable, Codable {
        public var name: String
        public var schema: JSONSchema
        public init(name: String, schema: JSONSchema) {
            self.name = name
            self.schema = schema
        }
    }

    public struct Tool: Sendable, Equatable, Codable {
        public var name: String
        public var parameters: JSONSchema
        public init(name: String, parameters: JSONSchema) {
            self.name = name
            self.parameters = parameters
        }
    }

    /// Why a schema was refused.
    public struct Unsupported: Error, Equatable, CustomStringConvertible {
        public let description: String
    }

    private static let ignoredKeywords: Set<String> = [
        "description", "title", "$schema", "additionalProperties", "required",
        "default", "examples", "strict", "name",
    ]

    /// Parses a schema given as decoded JSON (`JSONSerialization` objects).
    public init(json: Any, path: String = "schema") throws(Unsupported) {
        guard let object = json as? [String: Any] else { throw Unsupported(description: "\(path) must be an object") }
        if let values = object["enum"] as? [Any] {
            self = .oneOf(try values.map { v throws(Unsupported) in try Self.jsonText(v, path: path) })
            return
        }
        if let value = object["const"] {
            self = .oneOf([try Self.jsonText(value, path: path)])
            return
        }
        let known: Set<String> = ["type", "properties", "items", "enum", "const"]
        if let extra = object.keys.first(where: { !known.contains($0) && !Self.ignoredKeywords.contains($0) }) {
            throw Unsupported(
                description:
                    "\(path) uses '\(extra)', which constrained decoding does not support; supported: type, properties, items, enum, const")
        }
        switch object["type"] as? String {
        case nil:
            self = object["properties"] != nil ? try Self.parseObject(object, path: path) : .any
        case "object": self = try Self.parseObject(object, path: path)
        case "array":
            self = .array(try object["items"].map { i throws(Unsupported) in try JSONSchema(json: i, path: path + ".items") } ?? .any)
        case "string": self = .string
        case "number": self = .number
        case "integer": self = .integer
        case "boolean": self = .boolean
        case "null": self = .null
        case let other?:
            throw Unsupported(description: "\(path) has type '\(other)'; supported: object, array, string, number, integer, boolean, null")
        }
    }

    private static func parseObject(_ object: [String: Any], path: String) throws(Unsupported) -> JSONSchema {
        guard let properties = object["properties"] else { return .anyObject }
        // Decoded JSON objects have no key order: properties are emitted sorted by name.
        guard let dict = properties as? [String: Any] else { throw Unsupported(description: "\(path).properties must be an object") }
        return .object(
            try dict.keys.sorted().map { k throws(Unsupported) in
                Property(name: k, schema: try JSONSchema(json: dict[k]!, path: "\(path).properties.\(k)"))
            })
    }

    private static func jsonText(_ value: Any, path: String) throws(Unsupported) -> String {
        switch value {
        case let s as String:
            guard let data = try? JSONSerialization.data(withJSONObject: [s]), let text = String(data: data, encoding: .utf8) else {
                throw Unsupported(description: "\(path): cannot encode enum value")
            }
            return String(text.dropFirst().dropLast())  // strip the array brackets
        case let n as NSNumber:
            // Decoded booleans are NSNumbers too; their type code is "c".
            if String(cString: n.objCType) == "c" { return n.boolValue ? "true" : "false" }
            return n.stringValue
        case is NSNull: return "null"
        default: throw Unsupported(description: "\(path): enum values must be strings, numbers, booleans or null")
        }
    }
}
