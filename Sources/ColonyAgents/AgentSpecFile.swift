import ColonyModels
import ColonyStore
import Foundation
import Yams

/// An agent spec as written in YAML:
///
/// ```yaml
/// name: math
/// instructions: Solve the task. Use the calculator for arithmetic.
/// tools: [calculator, memory.save, memory.search, workspace]
/// max_steps: 6
/// max_tokens_per_step: 128
/// token_budget: 8192
/// temperature: 0
/// context_tokens: 1536   # short-term memory budget
/// recall: 3              # memories put into the prompt at the start
/// mcp_servers:           # MCP servers over stdio; their tools appear as NAME.TOOL
///   - name: files
///     command: [python3, files_server.py]
///     env: {ROOT: /tmp}
/// ```
///
/// Every field is checked; an error names the field and what was wrong.
public struct AgentSpecFile: Decodable, Sendable {
    public var name: String
    public var instructions: String
    public var tools: [String]?
    public var maxSteps: Int?
    public var maxTokensPerStep: Int?
    public var tokenBudget: Int?
    public var temperature: Float?
    public var toolTimeout: Double?
    public var contextTokens: Int?
    public var recall: Int?
    public var mcpServerEntries: [MCPServerEntry]?

    enum CodingKeys: String, CodingKey {
        case name, instructions, tools, temperature, recall
        case maxSteps = "max_steps"
        case maxTokensPerStep = "max_tokens_per_step"
        case tokenBudget = "token_budget"
        case toolTimeout = "tool_timeout"
        case contextTokens = "context_tokens"
        case mcpServerEntries = "mcp_servers"
    }

    /// One entry of `mcp_servers`.
    public struct MCPServerEntry: Decodable, Sendable {
        public var name: String
        public var command: [String]
        public var env: [String: String]?
    }

    /// The MCP servers the spec asks for, as launch configurations.
    public var mcpServers: [MCPServerConfiguration] {
        (mcpServerEntries ?? []).map { MCPServerConfiguration(name: $0.name, command: $0.command, environment: $0.env ?? [:]) }
    }

    /// Tool names a spec may list.
    public static let knownTools = ["calculator", "memory.save", "memory.search", "workspace"]

    /// Reads and parses a spec file; returns its text too (kept with each run).
    /// - Throws: `AgentError.cannotRead` or what `parse` throws.
    public static func load(path: String) throws -> (text: String, spec: AgentSpecFile) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw AgentError.cannotRead(what: "spec", path: path) }
        return (text, try parse(text))
    }

    /// Parses and validates YAML text.
    public static func parse(_ yaml: String) throws -> AgentSpecFile {
        let spec: AgentSpecFile
        do {
            spec = try YAMLDecoder().decode(AgentSpecFile.self, from: yaml)
        } catch let error as DecodingError {
            throw AgentError.invalidSpec(reason: Self.describe(error))
        } catch {
            throw AgentError.invalidSpec(reason: "\(error)")
        }
        try spec.validate()
        return spec
    }

    func validate() throws {
        func fail(_ field: String, _ why: String) -> AgentError { .invalidSpecField(field: field, problem: why) }
        if name.trimmingCharacters(in: .whitespaces).isEmpty { throw fail("name", "must not be empty") }
        if let bad = tools?.first(where: { !Self.knownTools.contains($0) }) {
            throw fail("tools", "lists unknown tool '\(bad)'; known: \(Self.knownTools.joined(separator: ", "))")
        }
        if let v = maxSteps, !(1...100).contains(v) { throw fail("max_steps", "must be between 1 and 100, got \(v)") }
        if let v = maxTokensPerStep, v < 1 { throw fail("max_tokens_per_step", "must be ≥ 1, got \(v)") }
        if let v = tokenBudget, v < 1 { throw fail("token_budget", "must be ≥ 1, got \(v)") }
        if let v = temperature, !(0...2).contains(v) { throw fail("temperature", "must be between 0 and 2, got \(v)") }
        if let v = toolTimeout, v <= 0 { throw fail("tool_timeout", "must be > 0, got \(v)") }
        if let v = contextTokens, v < 64 { throw fail("context_tokens", "must be ≥ 64, got \(v)") }
        if let v = recall, !(0...50).contains(v) { throw fail("recall", "must be between 0 and 50, got \(v)") }
        var seen = Set<String>()
        for (i, server) in (mcpServerEntries ?? []).enumerated() {
            let field = "mcp_servers[\(i)]"
            if server.name.isEmpty || !server.name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) {
                throw fail(field + ".name", "must be letters, digits, '_' or '-', got '\(server.name)'")
            }
            if !seen.insert(server.name).inserted {
                throw fail(field + ".name", "repeats '\(server.name)'; each server needs its own name")
            }
            if server.command.first?.isEmpty ?? true { throw fail(field + ".command", "must name a program, e.g. [python3, server.py]") }
        }
    }

    /// The runnable spec, with tools bound to the store (memory) and a workspace folder,
    /// plus `extraTools` (those of the spec's MCP servers, once launched).
    public func agentSpec(store: any MemoryStore, workspace: URL, extraTools: [any Tool] = []) throws -> AgentSpec {
        var tools: [any Tool] = []
        for t in self.tools ?? [] {
            switch t {
            case "calculator": tools.append(CalculatorTool())
            case "memory.save": tools.append(MemorySaveTool(store: store, namespace: name))
            case "memory.search": tools.append(MemorySearchTool(store: store, namespace: name))
            default:
                let ws = try Workspace(root: workspace)
                tools += [ReadFileTool(workspace: ws), WriteFileTool(workspace: ws), ListFilesTool(workspace: ws)] as [any Tool]
            }
        }
        var spec = AgentSpec(name: name, instructions: instructions, tools: tools + extraTools)
        spec.maxSteps = maxSteps ?? spec.maxSteps
        spec.maxTokensPerStep = maxTokensPerStep ?? spec.maxTokensPerStep
        spec.tokenBudget = tokenBudget ?? spec.tokenBudget
        spec.toolTimeout = toolTimeout ?? spec.toolTimeout
        spec.sampling.temperature = temperature ?? 0
        spec.contextTokens = contextTokens ?? spec.contextTokens
        spec.memory = (store, name)
        spec.recall = recall ?? 0
        return spec
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [CodingKey]) -> String { keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".") }
        switch error {
        case .keyNotFound(let key, let c): return "missing field '\(path(c.codingPath + [key]))'"
        case .typeMismatch(let type, let c): return "field '\(path(c.codingPath))' must be \(type)"
        case .valueNotFound(let type, let c): return "field '\(path(c.codingPath))' must be \(type), not null"
        case .dataCorrupted(let c):
            return c.codingPath.isEmpty ? "not valid YAML: \(c.debugDescription)" : "field '\(path(c.codingPath))': \(c.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
