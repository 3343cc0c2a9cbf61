/// How many workers a cluster should run, from its queue: a pure value fed a window of
/// observations, with the clock passed in (so a bursty trace can be replayed in a test).
///
/// Like Ray Serve's autoscaler: the desired count is the ready workers scaled by the mean
/// queue per worker over the last `window` against `targetQueue`, rounded up, within
/// `min…max`. A change must be wanted without a break for `upDelay` (scale up) or
/// `downDelay` (scale down) before it is made, and a ratio within `tolerance` of 1 wants no
/// change at all (hysteresis, as Kubernetes' HPA). Fewer workers are wanted only when what
/// runs and waits would still be at most the target per worker: with continuous batching the
/// queue stays empty while a full batch runs, and that is no time to shrink. Workers still
/// loading count toward the workers started, never toward the ones serving, and are never
/// chosen to stop.
public struct AutoscalePolicy: Sendable {
    public var minReplicas: Int
    public var maxReplicas: Int
    /// Requests waiting (at the router and in workers) per ready worker to aim for.
    public var targetQueue: Double
    public var upDelay: Duration
    public var downDelay: Duration
    /// How far the queue may stray from the target, as a share of it, before anything is wanted.
    public var tolerance: Double
    /// How far back the mean queue looks.
    public var window: Duration

    /// What the controller sees at one moment.
    public struct Observation: Sendable, Equatable {
        public var queueDepth: Int
        /// Requests running on the ready workers.
        public var running: Int
        /// Workers serving (ready actives).
        public var ready: Int
        /// Workers started but not ready yet.
        public var loading: Int

        public init(queueDepth: Int, running: Int = 0, ready: Int, loading: Int = 0) {
            self.queueDepth = queueDepth
            self.running = running
            self.ready = ready
            self.loading = loading
        }
    }

    private var samples: [(at: ContinuousClock.Instant, queue: Int, running: Int)] = []
    private var wanting: (direction: Int, since: ContinuousClock.Instant)?

    public init(
        minReplicas: Int, maxReplicas: Int, targetQueue: Double = 4, upDelay: Duration = .seconds(30),
        downDelay: Duration = .seconds(600), tolerance: Double = 0.1, window: Duration = .seconds(10)
    ) {
        self.minReplicas = minReplicas
        self.maxReplicas = maxReplicas
        self.targetQueue = targetQueue
        self.upDelay = upDelay
        self.downDelay = downDelay
        self.tolerance = tolerance
        self.window = window
    }

    /// The workers to run from now: unchanged unless a change has been wanted long enough.
    public mutating func decide(_ o: Observation, at now: ContinuousClock.Instant) -> Int {
        samples.append((now, o.queueDepth, o.running))
        samples.removeAll { now - $0.at > window }
        let started = o.ready + o.loading
        let clamped = min(max(started, minReplicas), maxReplicas)
        if clamped != started { return clamped }  // out of bounds: no delay
        guard o.loading == 0 else { return started }  // wait for what is loading before judging
        let meanQueue = Double(samples.map(\.queue).reduce(0, +)) / Double(samples.count)
        let ratio = o.ready > 0 ? meanQueue / Double(o.ready) / targetQueue : (meanQueue > 0 ? .infinity : 0)
        var desired = o.ready
        if ratio > 1 + tolerance {
            desired = ratio.isFinite ? Int((Double(o.ready) * ratio).rounded(.up)) : o.ready + 1
        } else if ratio < 1 - tolerance {
            let meanRunning = Double(samples.map(\.running).reduce(0, +)) / Double(samples.count)
            let busy = Int(((meanQueue + meanRunning) / targetQueue).rounded(.up))
            desired = max(Int((Double(o.ready) * ratio).rounded(.up)), busy)
        }
        desired = min(max(desired, minReplicas), maxReplicas)
        let direction = desired > started ? 1 : desired < started ? -1 : 0
        guard direction != 0 else {
            wanting = nil
            return started
        }
        if wanting?.direction != direction { wanting = (direction, now) }
        let delay = direction > 0 ? upDelay : downDelay
        guard now - wanting!.since >= delay else { return started }
        wanting = nil
        samples.removeAll()  // judge the new size on its own queue
        return desired
    }
}
