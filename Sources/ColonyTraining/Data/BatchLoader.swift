import ColonyModels

/// Where a loader is in its data: saved in checkpoints so a resumed run sees the same batches.
public struct DataPosition: Codable, Equatable, Sendable {
    public var epoch = 0
    /// Index into the epoch's shuffled order of the next example to pack.
    public var cursor = 0

    public init(epoch: Int = 0, cursor: Int = 0) {
        self.epoch = epoch
        self.cursor = cursor
    }
}

/// Packs examples into fixed-size batches in a seeded shuffled order, epoch after epoch.
///
/// Whole examples are packed into each sequence while they fit; the rest of a sequence is
/// padding that takes no loss. Packed examples never attend to each other, and each
/// starts at position 0.
public struct BatchLoader: Sendable {
    public let examples: [TrainingExample]
    public let batchSize: Int
    public let length: Int
    public let seed: UInt64
    public var position = DataPosition()
    private var order: [Int] = []
    private var orderEpoch = -1

    public init(examples: [TrainingExample], batchSize: Int, length: Int, seed: UInt64) {
        precondition(!examples.isEmpty && examples.allSatisfy { $0.tokens.count <= length }, "examples must fit the sequence length")
        self.examples = examples
        self.batchSize = batchSize
        self.length = length
        self.seed = seed
    }

    /// The order of epoch `e`: a Fisher–Yates shuffle seeded by (seed, e).
    static func order(count: Int, seed: UInt64, epoch: Int) -> [Int] {
        var rng = SplitMix64(seed: seed ^ (UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15))
        var order = Array(0..<count)
        for i in stride(from: count - 1, to: 0, by: -1) { order.swapAt(i, rng.index(below: i + 1)) }
        return order
    }

    /// The next batch; advances `position`.
    public mutating func next() -> TrainingBatch {
        var tokens: [Int32] = []
        var positions: [Int] = []
        var starts: [Int32] = []
        var targets: [Int32] = []
        for _ in 0..<batchSize {
            var used = 0
            while true {
                if orderEpoch != position.epoch {
                    order = Self.order(count: examples.count, seed: seed, epoch: position.epoch)
                    orderEpoch = position.epoch
                }
                let example = examples[order[position.cursor]]
                let n = example.tokens.count
                // An example that does not fit starts the next sequence (unless the sequence is empty).
                if used > 0 && used + n > length { break }
                for j in 0..<n {
                    tokens.append(example.tokens[j])
                    positions.append(j)
                    starts.append(Int32(used))
                    targets.append(j + 1 < n && example.trained[j + 1] ? example.tokens[j + 1] : -1)
                }
                used += n
                position.cursor += 1
                if position.cursor == examples.count {
                    position.cursor = 0
                    position.epoch += 1
                }
                if used == length { break }
            }
            for _ in used..<length {
                tokens.append(0)
                positions.append(0)
                starts.append(Int32((tokens.count - 1) % length))  // padding attends to itself only
                targets.append(-1)
            }
        }
        return TrainingBatch(
            tokens: tokens, positions: positions, segmentStart: starts, targets: targets, sequences: batchSize, length: length)
    }
}
