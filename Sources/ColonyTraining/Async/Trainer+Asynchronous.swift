import Foundation

extension Trainer {
    /// A worker's step of asynchronous training, after its micro-batches' summed-token
    /// gradients are in place: `ps` pushes the mean gradient (clipped) and takes the
    /// parameters the servers send back; `hybrid` steps locally and exchanges when due.
    /// The loss reported is this worker's own.
    func exchangeStep(_ exchange: WorkerExchange, lossSum: Double, count: Int, batches: [TrainingBatch], started: UInt64) throws
        -> StepReport
    {
        let total = max(1, count)
        let lr = config.schedule.rate(at: step)
        let norm: Float
        let report: ExchangeReport
        switch exchange.configuration.mode {
        case .ps:
            for p in parameters where !p.grad.isEmpty { Kernels.scale(&p.grad, 1 / Float(total)) }
            norm = clipGradients(parameters, maxNorm: config.clipNorm)
            var gradient = [Float](repeating: 0, count: layout.total)
            layout.gather(parameters, into: &gradient, gradients: true)
            for p in parameters { p.zeroGrad() }
            let pulled = try exchange.push(gradient: gradient)
            layout.scatter(pulled.parameters, into: parameters)
            report = pulled.report
        case .hybrid:
            norm = try applyGradients(scale: 1 / Float(total), lr: lr)
            let done = step + 1
            let due = exchange.configuration
            if done % due.syncEvery == 0 || done == config.steps {
                let synced = try exchange.synchronize(local: flatParameters)
                layout.scatter(synced.parameters, into: parameters)
                report = synced.report
            } else if done % due.deltaEvery == 0 {
                let merged = try exchange.exchangeDelta(local: flatParameters)
                layout.scatter(merged.parameters, into: parameters)
                report = merged.report
            } else {
                report = exchange.quiet
            }
        }
        step += 1
        let loss = Float(lossSum / Double(total))
        losses.append(loss)
        return StepReport(
            step: step, loss: loss, learningRate: lr, gradientNorm: norm, tokens: count,
            processedTokens: batches.reduce(0) { $0 + $1.tokens.count },
            seconds: Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9, exchange: report)
    }
}
