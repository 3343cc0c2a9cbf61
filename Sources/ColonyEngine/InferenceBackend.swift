import ColonyModels

/// The seam every front door talks to: something that takes token requests and streams
/// their tokens back — the in-process `Engine`, or (in a cluster) a router over remote
/// workers. The OpenAI server and the agents hold `any InferenceBackend`, so they never
/// know which one they have.
///
/// Contract for conformers:
/// - `submit` either throws an `EngineError` and leaves the backend unchanged, or returns a
///   stream that ends with exactly one `.finished` event (or an error for a transport
///   failure); dropping the stream cancels the request.
/// - `cancel` of an unknown or finished id does nothing.
/// - `stats` and `health` are cheap snapshots, safe to call from any task at any rate.
public protocol InferenceBackend: Sendable {
    /// The tokenizer the backend's model was trained with: front doors encode prompts with it.
    var tokenizer: Tokenizer { get }
    /// Prompt plus completion tokens one request may hold at most.
    var maxContextTokens: Int { get }
    /// Queues a request and returns its event stream.
    func submit(_ request: EngineRequest) async throws(EngineError) -> AsyncThrowingStream<EngineEvent, Error>
    /// Cancels a request in flight; its stream ends with `.finished(.cancelled, …)`.
    func cancel(_ id: String) async
    /// Queue depth, KV use, counters and latency histograms.
    var stats: EngineStats { get async }
    /// Whether the backend takes requests now.
    var health: BackendHealth { get async }
    /// Stops taking requests, then finishes (or cancels) the ones in flight.
    func shutdown(cancelInFlight: Bool) async
    /// Figures beyond `stats` for `/metrics` (none for an engine).
    var metricSamples: [MetricSample] { get async }
}

extension InferenceBackend {
    public var metricSamples: [MetricSample] { [] }
}

/// Whether a backend takes requests, and if not, why.
public enum BackendHealth: Sendable, Equatable {
    case ready
    /// Still serving, but something is wrong (for a router: some workers are down).
    case degraded(String)
    /// Takes no requests.
    case unavailable(String)
}
