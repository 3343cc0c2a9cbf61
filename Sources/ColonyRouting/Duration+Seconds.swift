extension Duration {
    /// The duration in seconds, as metrics and reports show it.
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
