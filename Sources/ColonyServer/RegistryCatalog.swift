import ColonyModels
import ColonyRegistry
import ColonyRouting
import ColonyStore
import Foundation
import Logging

/// Registry versions of one model name served on one base: the base itself and every
/// LoRA adapter version whose parent is that base, applied per request without merging.
///
/// - `NAME`, `ref:NAME` or `NAME@prod` (and a request naming no model) get the version
///   `NAME@prod` points at, or, under a traffic split (`colony models split`), the arm of
///   the request's session;
/// - `NAME@REF` and `NAME@ID` (or a bare version id) get that version, bypassing the split.
///
/// Refs and the split are re-read at most every `refresh` seconds, so a promotion or a new
/// split reaches a running server without a restart. A version's adapter is loaded on its
/// first request; while it loads, selection of other requests waits (this actor), and
/// requests already running keep the adapter they started with. With a `gate`, outcomes
/// posted for the split's versions decide promotion or rollback, logged in the registry
/// with the gate's evidence.
public actor RegistryCatalog: ModelCatalog {
    public let registry: Registry
    public let name: String
    /// The version whose weights the server runs.
    public let base: String
    public let baseConfig: LlamaConfiguration
    public let gate: PromotionGate?
    /// Seconds a read of the refs and the split is used before it is read again.
    public let refresh: TimeInterval
    private var adapters: [String: LoRAWeights] = [:]
    private var state: (prod: String, split: TrafficSplit?, read: Date)?
    private let logger = Logger(label: "colony.catalog")

    public init(
        registry: Registry, name: String, base: String, baseConfig: LlamaConfiguration, gate: PromotionGate?, refresh: TimeInterval = 1
    ) {
        self.refresh = refresh
        self.registry = registry
        self.name = name
        self.base = base
        self.baseConfig = baseConfig
        self.gate = gate
    }

    public func names() async -> [String] { [name] }

    public func select(model: String?, session: String?, key: String) async throws -> ServedVersion {
        var requested = model ?? name
        if requested.hasPrefix(ModelReference.scheme) { requested.removeFirst(ModelReference.scheme.count) }
        let id: String
        if requested == name || requested == "\(name)@prod" {
            let now = try await current()
            id = now.split?.version(for: session ?? key) ?? now.prod
        } else if requested.hasPrefix("\(name)@") {
            let ref = String(requested.dropFirst(name.count + 1))
            if (try? ModelReference.check(ref: ref)) != nil {
                guard let target = try await registry.store.refs(name: name)[ref] else { throw notFound(requested) }
                id = target
            } else {
                id = ref
            }
        } else if (try await registry.store.version(id: requested))?.name == name {
            id = requested
        } else {
            throw notFound(requested)
        }
        return try await runnable(id, asked: requested)
    }

    /// The split's arms compared by the gate after every outcome (each version's outcomes
    /// since this server started: a version is the same model whichever arm it was on); a
    /// decision ends the split.
    public func outcomesChanged(_ ledger: FeedbackLedger) async {
        guard let gate, let split = try? await current().split, split.arms.count == 2 else { return }
        let tallies = await ledger.snapshot()
        func outcomes(_ v: String) -> PromotionGate.Outcomes {
            let t = tallies["\(name)@\(v)"] ?? .init()
            return .init(trials: t.feedback, successes: t.successes)
        }
        let (champion, challenger) = (split.champion, split.challengers[0])
        let decision = gate.decide(champion: outcomes(champion), challenger: outcomes(challenger))
        do {
            switch decision {
            case .wait: return
            case .promote(let evidence):
                let why = Self.describe(evidence, "promoted \(challenger) over \(champion)")
                try await registry.promote(name: name, id: challenger, why: why)
                try await registry.clearSplit(name: name, action: "gate-promote", why: why)
                logger.notice("gate: \(why)")
            case .rollBack(let evidence):
                let why = Self.describe(evidence, "rolled back \(challenger); \(champion) keeps serving")
                try await registry.clearSplit(name: name, action: "gate-rollback", why: why)
                logger.notice("gate: \(why)")
            }
        } catch {
            logger.warning("gate: could not act on its decision: \(error)")
        }
        state = nil
    }

    /// The gate's evidence as one line of JSON after a human summary, for the ref log.
    static func describe(_ e: PromotionGate.Evidence, _ summary: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = (try? encoder.encode(e)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return "gate \(summary): " + json
    }

    /// `NAME@prod` and the split, re-read when older than `refresh`.
    private func current() async throws -> (prod: String, split: TrafficSplit?) {
        if let state, Date().timeIntervalSince(state.read) < refresh { return (state.prod, state.split) }
        guard let prod = try await registry.store.refs(name: name)["prod"] else { throw notFound("\(name)@prod") }
        var split: TrafficSplit?
        if let text = try await registry.split(name: name) {
            do { split = try TrafficSplit(parsing: text) } catch { logger.warning("ignoring the stored split of \(name): \(error)") }
            if let s = split, s.champion != prod { split = nil }  // prod moved since: the split no longer describes it
        }
        state = (prod, split, Date())
        return (prod, split)
    }

    /// The base, or an adapter version on it (loaded once).
    private func runnable(_ id: String, asked: String) async throws -> ServedVersion {
        let shown = "\(name)@\(id)"
        if id == base { return ServedVersion(name: shown, version: shown) }
        if let adapter = adapters[id] { return ServedVersion(name: shown, version: shown, adapter: adapter) }
        guard let version = try await registry.store.version(id: id) else { throw notFound(asked) }
        let runsOn = try await Self.base(of: version, in: registry)
        guard runsOn.base.id == base else {
            throw APIError(
                status: .notFound,
                message:
                    "'\(asked)' is version \(id), which runs on base \(runsOn.base.id), not on this server's base \(base); serve it with its own `colony serve --model \(ModelReference.scheme)\(id)`",
                param: "model", code: "model_not_found")
        }
        do {
            let adapter = try LoRAWeights(gguf: try GGUFFile(contentsOf: try registry.weights(of: version)), name: shown, base: baseConfig)
            adapters[id] = adapter
            logger.info("loaded adapter \(shown) (rank \(adapter.rank))")
            return ServedVersion(name: shown, version: shown, adapter: adapter)
        } catch {
            throw APIError(
                status: .internalServerError, message: "version \(id) cannot run on base \(base): \(error)", type: "server_error")
        }
    }

    /// The full model `version` runs on, and the adapter it applies: an adapter version (a
    /// GGUF LoRA file) runs alone on its nearest ancestor that is a whole model, so an adapter
    /// trained on from another keeps that one as its parent and the same base.
    public static func base(of version: ModelVersion, in registry: Registry) async throws -> (base: ModelVersion, adapter: ModelVersion?) {
        var v = version
        var adapter: ModelVersion?
        for _ in 0..<64 {
            let file = try GGUFFile(contentsOf: try registry.weights(of: v))
            guard (try? file.string("general.type")) == "adapter" else { return (v, adapter) }
            if adapter == nil { adapter = v }
            guard let parent = v.parent, let p = try await registry.store.version(id: parent) else {
                throw RegistryError.notFound("the base model of adapter version \(v.id) (register it with --parent BASE_ID)")
            }
            v = p
        }
        throw RegistryError.notFound("a whole-model ancestor of \(version.id) within 64 generations")
    }

    private func notFound(_ asked: String) -> APIError {
        APIError(
            status: .notFound,
            message: "the model '\(asked)' does not exist here; this server serves '\(name)' (NAME, NAME@REF or NAME@ID)",
            param: "model", code: "model_not_found")
    }
}
