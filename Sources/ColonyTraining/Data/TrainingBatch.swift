/// `sequences` rows of `length` tokens, flattened, ready for the model.
public struct TrainingBatch: Sendable, Equatable {
    public var tokens: [Int32]
    /// Position of each token within its document (RoPE).
    public var positions: [Int]
    /// First row (within the sequence) that each token may attend to: its document's start.
    public var segmentStart: [Int32]
    /// The next token to predict at each row, or −1 where no loss is taken (prompts,
    /// padding, document ends).
    public var targets: [Int32]
    public var sequences: Int
    public var length: Int

    public init(tokens: [Int32], positions: [Int], segmentStart: [Int32], targets: [Int32], sequences: Int, length: Int) {
        precondition(
            [positions.count, segmentStart.count, targets.count].allSatisfy { $0 == tokens.count } && tokens.count == sequences * length,
            "a batch needs sequences × length values in every array")
        self.tokens = tokens
        self.positions = positions
        self.segmentStart = segmentStart
        self.targets = targets
        self.sequences = sequences
        self.length = length
    }

    /// Tokens that count towards the loss.
    public var targetCount: Int { targets.reduce(0) { $0 + ($1 >= 0 ? 1 : 0) } }
}
