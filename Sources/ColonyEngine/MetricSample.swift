/// One figure a backend reports for `/metrics` beside the engine-shaped `EngineStats` (a
/// router's per-worker load, its routing decisions): the server records it through
/// swift-metrics, so every line of `/metrics` comes from one exporter.
public struct MetricSample: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case gauge
        /// A running total: the server advances its counter by what changed since the last scrape.
        case counter
        /// Every observation so far (rare events, such as repairs), bucketed at `bounds`: the
        /// server records the ones it has not seen.
        case histogram(bounds: [Double], observations: [Double])
    }

    public var name: String
    public var help: String
    public var kind: Kind
    public var labels: [String: String]
    public var value: Double

    public init(_ name: String, _ kind: Kind, help: String, labels: [String: String] = [:], value: Double) {
        self.name = name
        self.help = help
        self.kind = kind
        self.labels = labels
        self.value = value
    }
}
