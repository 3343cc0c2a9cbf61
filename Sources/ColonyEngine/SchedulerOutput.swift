import ColonyModels

/// What one engine step runs: plain data from the `Scheduler` to a `ModelRunner`, as in
/// vLLM v1. Nothing in it refers to scheduler state, so a runner may live elsewhere.
public struct SchedulerOutput: Sendable, Equatable {
    /// One request's share of the step: `tokens` at positions `start...`, written into the
    /// blocks of `table` (whose `length` is `start`: what is already cached).
    public struct Chunk: Sendable, Equatable {
        public var requestID: String
        /// The KV sequence number of the request (its `BatchToken.sequence`).
        public var sequence: Int
        public var tokens: [Int]
        public var start: Int
        public var table: BlockTable
        /// The chunk reaches the request's last known token: sample the next one from its
        /// logits. False for a prefill chunk that is not the last.
        public var samples: Bool
        /// The LoRA adapter the request runs with, if any.
        public var adapter: LoRAWeights?

        public init(
            requestID: String, sequence: Int, tokens: [Int], start: Int, table: BlockTable, samples: Bool, adapter: LoRAWeights? = nil
        ) {
            self.requestID = requestID
            self.sequence = sequence
            self.tokens = tokens
            self.start = start
            self.table = table
            self.samples = samples
            self.adapter = adapter
        }
    }

    /// A request the scheduler ended on its own (it can never fit), with its usage so far.
    public struct Finished: Sendable, Equatable {
        public var requestID: String
        public var reason: FinishReason
        public var cachedPromptTokens: Int

        public init(requestID: String, reason: FinishReason, cachedPromptTokens: Int) {
            self.requestID = requestID
            self.reason = reason
            self.cachedPromptTokens = cachedPromptTokens
        }
    }

    public var chunks: [Chunk] = []
    /// Requests sent back to the queue this step to free their blocks, in preemption order.
    public var preempted: [String] = []
    public var finished: [Finished] = []

    public init() {}

    /// Tokens run this step (never more than the token budget).
    public var tokenCount: Int { chunks.reduce(0) { $0 + $1.tokens.count } }

    /// The flat batch a model runs for this step, in chunk order.
    public var batch: [BatchToken] {
        var batch: [BatchToken] = []
        batch.reserveCapacity(tokenCount)
        for c in chunks {
            for (i, t) in c.tokens.enumerated() {
                batch.append(
                    BatchToken(
                        token: t, position: c.start + i, sequence: c.sequence,
                        wantsLogits: c.samples && i == c.tokens.count - 1))
            }
        }
        return batch
    }
}
