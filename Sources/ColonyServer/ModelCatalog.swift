import ColonyModels

/// The model versions a server runs, and which one runs each request: the seam between
/// the HTTP edge and how versions are chosen (one model, or registry versions under an A/B
/// split with a promotion gate).
public protocol ModelCatalog: Sendable {
    /// The model ids `/v1/models` lists.
    func names() async -> [String]
    /// The version that runs a request asking for `model` (nil: the default) in `session`
    /// (`user` or `x-session-id`); `key`, the response id, stands in for a missing session.
    /// - Throws: `APIError` (404 for a model this server cannot run).
    func select(model: String?, session: String?, key: String) async throws -> ServedVersion
    /// Called after each outcome reported through `/v1/feedback`: a catalog with a gate
    /// weighs the versions' outcomes here.
    func outcomesChanged(_ ledger: FeedbackLedger) async
}

/// What runs one request: the id responses show, the registry version (if any) and the
/// LoRA adapter applied on the server's base model (nil: the base alone).
public struct ServedVersion: Sendable {
    public var name: String
    public var version: String?
    public var adapter: LoRAWeights?

    public init(name: String, version: String? = nil, adapter: LoRAWeights? = nil) {
        self.name = name
        self.version = version
        self.adapter = adapter
    }
}

/// One model under one name: what a server runs when given a file.
public struct SingleModel: ModelCatalog {
    public let served: ServedVersion

    public init(name: String, version: String? = nil) { served = ServedVersion(name: name, version: version) }

    public func names() async -> [String] { [served.name] }

    public func select(model: String?, session: String?, key: String) async throws -> ServedVersion {
        if let model, model != served.name { throw APIError.modelNotFound(model, served: served.name) }
        return served
    }

    public func outcomesChanged(_ ledger: FeedbackLedger) async {}
}
