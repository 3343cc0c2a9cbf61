import ColonyRouting

/// What a router serves and how it routes.
public struct RouterConfiguration: Sendable {
    /// The model name requests must use; workers must advertise the same.
    public var model: String
    /// `ModelDigest` of the router's model file; a worker with another digest is refused.
    public var modelDigest: String
    /// Tokens per KV block and the prefix-cache salt: the workers' own, so prompts hash alike.
    public var blockSize = 16
    public var prefixCacheSalt: String?
    public var routing = RoutingPolicy()
    /// How often discovery and each worker's status are read.
    public var pollInterval: Duration = .milliseconds(500)
    /// Deadline of a status or cancel call.
    public var callTimeout: Duration = .seconds(2)
    /// How long a suspect stays silent before it is dead and a spare takes its place.
    public var deadAfter: Duration = .seconds(2)
    /// How many times one request may move to another worker after its worker failed.
    public var migrationLimit = 3
    /// How long a request waits at the router for a ready worker before a 503.
    public var dispatchTimeout: Duration = .seconds(30)
    /// Deadline of a request's first token, and of each gap between tokens after it.
    public var firstTokenTimeout: Duration = .seconds(300)
    public var tokenGapTimeout: Duration = .seconds(60)
    /// The router's own HTTP address, shown in the cluster status.
    public var address = ""

    public init(model: String, modelDigest: String) {
        self.model = model
        self.modelDigest = modelDigest
    }
}
