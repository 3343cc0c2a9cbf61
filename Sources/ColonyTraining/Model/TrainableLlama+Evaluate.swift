extension TrainableLlama {
    /// Token-weighted mean loss over every example once (assistant tokens only): what
    /// `colony eval` reports.
    ///
    /// - Parameter onProgress: hears the examples scored so far after each batch.
    /// - Returns: the mean loss (nil when no example has a scored token) and the tokens scored.
    public func meanLoss(
        over examples: [TrainingExample], batchSize: Int, length: Int,
        onProgress: (Int) -> Void = { _ in }
    ) throws -> (loss: Double?, tokens: Int) {
        var loader = BatchLoader(examples: examples, batchSize: batchSize, length: length, seed: 0)
        var sum: Double = 0
        var count = 0
        // One pass: stop once every example has been packed once.
        while loader.position.epoch == 0 {
            let part = try summedLoss(loader.next())
            sum += part.sum
            count += part.count
            onProgress(loader.position.epoch > 0 ? examples.count : loader.position.cursor)
        }
        return (count > 0 ? sum / Double(count) : nil, count)
    }
}
