import Foundation

/// Appends JSON lines (one per step or evaluation) to a run's `log.jsonl`.
///
/// Writes are best effort: a full disk must not stop a run that checkpoints elsewhere.
struct TrainingLog {
    let path: String
    /// Only the lead rank writes; the others hold a disabled log.
    let enabled: Bool

    /// Creates (or, when `append` and it exists, keeps) the file at `path`.
    init(path: String, enabled: Bool, append: Bool) {
        self.path = path
        self.enabled = enabled
        if enabled && (!append || !FileManager.default.fileExists(atPath: path)) {
            FileManager.default.createFile(atPath: path, contents: nil)
        }
    }

    /// One optimiser step: `step`, `loss`, `lr`, `grad_norm`, `tokens`, `elapsed_s` (seconds
    /// since this invocation started) and, in a pipeline, `pipeline_wait_s` (this rank's
    /// wait for other stages in the step); asynchronously, `version`, `rejected` and
    /// `bytes_sent` (`ExchangeReport`).
    func write(_ report: StepReport, elapsed: Double) {
        var fields: [String: Any] = [
            "step": report.step, "loss": Double(report.loss), "lr": Double(report.learningRate),
            "grad_norm": Double(report.gradientNorm), "tokens": report.tokens, "elapsed_s": elapsed,
        ]
        if report.pipelineWaitSeconds > 0 { fields["pipeline_wait_s"] = report.pipelineWaitSeconds }
        if let exchange = report.exchange {
            fields["version"] = exchange.version
            fields["rejected"] = exchange.rejected
            fields["bytes_sent"] = exchange.bytesSent
        }
        write(fields)
    }

    /// One evaluation: `step`, `eval_loss`, `eval_perplexity`.
    func writeEvaluation(step: Int, loss: Float, perplexity: Float) {
        write(["step": step, "eval_loss": Double(loss), "eval_perplexity": Double(perplexity)])
    }

    private func write(_ fields: [String: Any]) {
        guard enabled, let data = try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys]),
            let handle = FileHandle(forWritingAtPath: path)
        else { return }
        defer { try? handle.close() }
        _ = try? handle.seekToEnd()
        try? handle.write(contentsOf: data + Data("\n".utf8))
    }
}
