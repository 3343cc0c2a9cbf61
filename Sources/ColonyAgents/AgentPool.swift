import ColonyEngine
import ColonyStore
import Foundation

/// Agents built from one spec file that share one model client, one store and the spec's
/// MCP servers: what `colony agents run`, `resume` and `swarm` set up before they run.
///
/// The pool owns the MCP servers it starts and, when given one, the inference backend
/// behind its client; `shutdown()` stops them all. Call it on every path out, errors included.
///
/// ```swift
/// let pool = try await AgentPool.start(specFile, client: client, store: store, workspace: folder)
/// let run = try await pool.agent().run(task: "What is 6 * 7?", store: pool.store)
/// await pool.shutdown()
/// ```
public final class AgentPool: Sendable {
    /// The spec every agent of the pool runs: the file's settings and built-in tools plus
    /// every tool the MCP servers offer.
    public let spec: AgentSpec
    /// What the agents think with.
    public let client: any LLMClient
    /// Where runs, steps and memories are kept.
    public let store: any RunStore & MemoryStore
    private let mcpServers: [MCPServer]
    private let backend: (any InferenceBackend)?

    private init(
        spec: AgentSpec, client: any LLMClient, store: any RunStore & MemoryStore, mcpServers: [MCPServer], backend: (any InferenceBackend)?
    ) {
        self.spec = spec
        self.client = client
        self.store = store
        self.mcpServers = mcpServers
        self.backend = backend
    }

    /// Starts the spec's MCP servers and builds the agents' spec.
    ///
    /// - Parameters:
    ///   - backend: the backend behind `client`, if the pool should shut it down (an in-process
    ///     engine); nil for a remote endpoint.
    ///   - workspace: the folder the `workspace` tool may touch.
    /// - Throws: an MCP server's launch or tool-listing error, or the spec's; nothing is left
    ///   running then (the backend included).
    public static func start(
        _ specFile: AgentSpecFile, client: any LLMClient, backend: (any InferenceBackend)? = nil, store: any RunStore & MemoryStore,
        workspace: URL
    ) async throws -> AgentPool {
        var servers: [MCPServer] = []
        do {
            for config in specFile.mcpServers { servers.append(try await MCPServer.launch(config)) }
            var tools: [any Tool] = []
            for server in servers { tools += try await server.tools() }
            let spec = try specFile.agentSpec(store: store, workspace: workspace, extraTools: tools)
            return AgentPool(spec: spec, client: client, store: store, mcpServers: servers, backend: backend)
        } catch {
            for server in servers { await server.shutdown() }
            await backend?.shutdown(cancelInFlight: false)
            throw error
        }
    }

    /// A fresh agent of the pool (agents are values; one per run).
    public func agent() -> Agent { Agent(spec: spec, client: client) }

    /// Runs `body` with the pool, then shuts the pool down, whether `body` returns or throws.
    public func closing<T>(after body: (AgentPool) async throws -> T) async throws -> T {
        let result: T
        do {
            result = try await body(self)
        } catch {
            await shutdown()
            throw error
        }
        await shutdown()
        return result
    }

    /// Stops the backend (finishing requests in flight) and every MCP server.
    public func shutdown() async {
        await backend?.shutdown(cancelInFlight: false)
        for server in mcpServers { await server.shutdown() }
    }
}
