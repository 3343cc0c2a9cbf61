import Foundation

/// Updates parameters from their gradients. State is per parameter, keyed by position in
/// the list given to `step`, and can be saved and restored exactly (checkpoints).
public protocol Optimizer: AnyObject {
    /// Applies one update with learning rate `lr` to each parameter that has a gradient.
    func step(_ parameters: [Variable], lr: Float)
    /// Everything needed to continue bit for bit: moment buffers and the step count.
    var state: OptimizerState { get set }
}

/// An optimiser's saved state: named float buffers (one set per parameter) and a step count.
public struct OptimizerState: Codable, Equatable, Sendable {
    public var steps: Int = 0
    /// `buffers[k][i]` is buffer k (e.g. first moment) of parameter i.
    public var buffers: [[[Float]]] = []

    public init(steps: Int = 0, buffers: [[[Float]]] = []) {
        self.steps = steps
        self.buffers = buffers
    }
}

/// SGD with (optional) momentum and decoupled weight decay.
public final class SGD: Optimizer {
    public let momentum: Float
    public let weightDecay: Float
    public var state = OptimizerState()

    public init(momentum: Float = 0.9, weightDecay: Float = 0) {
        self.momentum = momentum
        self.weightDecay = weightDecay
    }

    public func step(_ parameters: [Variable], lr: Float) {
        if state.buffers.isEmpty { state.buffers = [parameters.map { [Float](repeating: 0, count: $0.count) }] }
        state.steps += 1
        for (i, p) in parameters.enumerated() where !p.grad.isEmpty {
            let n = p.count
            let mu = momentum
            let wd = weightDecay
            p.value.withUnsafeMutableBufferPointer { w in
                p.grad.withUnsafeBufferPointer { g in
                    state.buffers[0][i].withUnsafeMutableBufferPointer { v in
                        for j in 0..<n {
                            v[j] = mu * v[j] + g[j]
                            w[j] -= lr * (v[j] + wd * w[j])
                        }
                    }
                }
            }
        }
    }
}

/// AdamW (Loshchilov & Hutter): Adam moments with bias correction, weight decay applied
/// to the weights directly rather than through the gradient.
public final class AdamW: Optimizer {
    public let beta1: Float
    public let beta2: Float
    public let epsilon: Float
    public let weightDecay: Float
    public var state = OptimizerState()

    public init(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8, weightDecay: Float = 0.01) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
    }

    public func step(_ parameters: [Variable], lr: Float) {
        if state.buffers.isEmpty {
            let zeros = parameters.map { [Float](repeating: 0, count: $0.count) }
            state.buffers = [zeros, zeros]
        }
        state.steps += 1
        let t = Float(state.steps)
        let c1 = 1 - Foundation.pow(beta1, t)
        let c2 = 1 - Foundation.pow(beta2, t)
        let b1 = beta1
        let b2 = beta2
        let eps = epsilon
        let decay = 1 - lr * weightDecay
        // Moved out (not copied) so both moments can be written at once without two
        // simultaneous accesses to `state`.
        var first = state.buffers[0]
        var second = state.buffers[1]
        state.buffers = []
        defer { state.buffers = [first, second] }
        for (i, p) in parameters.enumerated() where !p.grad.isEmpty {
            let n = p.count
            p.value.withUnsafeMutableBufferPointer { w in
                p.grad.withUnsafeBufferPointer { g in
                    first[i].withUnsafeMutableBufferPointer { m in
                        second[i].withUnsafeMutableBufferPointer { v in
                            for j in 0..<n {
                                m[j] = b1 * m[j] + (1 - b1) * g[j]
                                v[j] = b2 * v[j] + (1 - b2) * g[j] * g[j]
                                let update = (m[j] / c1) / ((v[j] / c2).squareRoot() + eps)
                                w[j] = w[j] * decay - lr * update
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Scales every gradient so their global L2 norm is at most `maxNorm`; returns the norm
/// before clipping (worth logging: a spike means trouble).
@discardableResult
public func clipGradients(_ parameters: [Variable], maxNorm: Float) -> Float {
    var total: Double = 0
    for p in parameters where !p.grad.isEmpty {
        for g in p.grad { total += Double(g * g) }
    }
    let norm = Float(total.squareRoot())
    if maxNorm > 0 && norm > maxNorm {
        let s = maxNorm / norm
        for p in parameters where !p.grad.isEmpty { Kernels.scale(&p.grad, s) }
    }
    return norm
}

/// Linear warmup to `peak`, then cosine decay to `peak · minRatio` at `totalSteps`.
public struct LearningRateSchedule: Codable, Equatable, Sendable {
    public var peak: Float
    public var warmupSteps: Int
    public var totalSteps: Int
    public var minRatio: Float

    public init(peak: Float, warmupSteps: Int, totalSteps: Int, minRatio: Float = 0.1) {
        self.peak = peak
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.minRatio = minRatio
    }

    /// The rate for 0-based `step`.
    public func rate(at step: Int) -> Float {
        if step < warmupSteps { return peak * Float(step + 1) / Float(warmupSteps) }
        let span = max(1, totalSteps - warmupSteps)
        let progress = min(1, Float(step - warmupSteps) / Float(span))
        let cosine = 0.5 * (1 + cosf(.pi * progress))
        return peak * (minRatio + (1 - minRatio) * cosine)
    }
}
