/// A matrix of f32 values (row-major, `rows × cols`) on the tape, with its gradient.
///
/// Reference type on purpose: the tape's backward closures refer to the variables they
/// read and accumulate into, as in PyTorch's eager autograd. Not `Sendable`: a tape and
/// its variables belong to one training step on one thread.
public final class Variable {
    public let rows: Int
    public let cols: Int
    public var value: [Float]
    /// d(loss)/d(value), same shape; empty until backward reaches this variable.
    public var grad: [Float] = []
    /// Whether backward computes `grad` (parameters being trained, and what depends on them).
    public let requiresGrad: Bool

    public init(rows: Int, cols: Int, value: [Float], requiresGrad: Bool = false) {
        precondition(value.count == rows * cols, "value has \(value.count) elements, shape \(rows)×\(cols) needs \(rows * cols)")
        self.rows = rows
        self.cols = cols
        self.value = value
        self.requiresGrad = requiresGrad
    }

    public convenience init(zeros rows: Int, _ cols: Int, requiresGrad: Bool = false) {
        self.init(rows: rows, cols: cols, value: [Float](repeating: 0, count: rows * cols), requiresGrad: requiresGrad)
    }

    public var count: Int { rows * cols }

    /// The gradient buffer, allocated as zeros on first use.
    func ensureGrad() {
        if grad.isEmpty { grad = [Float](repeating: 0, count: count) }
    }

    /// Forgets the gradient (before the next accumulation window).
    public func zeroGrad() { grad = [] }

    /// A new variable with the same values (no gradient).
    func copy() -> Variable { Variable(rows: rows, cols: cols, value: value, requiresGrad: requiresGrad) }

    /// Rows `range` as a new variable.
    func rows(_ range: Range<Int>) -> Variable {
        Variable(
            rows: range.count, cols: cols, value: Array(value[(range.lowerBound * cols)..<(range.upperBound * cols)]),
            requiresGrad: requiresGrad)
    }

    /// Columns `range` as a new variable.
    func columns(_ range: Range<Int>) -> Variable {
        var out: [Float] = []
        out.reserveCapacity(rows * range.count)
        for r in 0..<rows { out.append(contentsOf: value[(r * cols + range.lowerBound)..<(r * cols + range.upperBound)]) }
        return Variable(rows: rows, cols: range.count, value: out, requiresGrad: requiresGrad)
    }
}

/// Records operations in order so `backward` can apply the chain rule in reverse.
///
/// One tape per forward pass: build it, call `backward(from:)` once, drop it. Parameters
/// keep their `grad` across tapes, which is how gradient accumulation works.
public final class Tape {
    private var steps: [() throws -> Void] = []

    public init() {}

    /// Adds the backward step of an operation whose output needs gradients. A step
    /// throws only when it communicates (tensor-parallel all-reduces).
    func record(_ backward: @escaping () throws -> Void) { steps.append(backward) }

    // Hooks at layer boundaries, for work that follows the layers: ZeRO-3 gathers a
    // layer's parameters before it runs and drops them after; data parallel reduces a
    // layer's gradients as soon as they are final.

    /// Called when forward enters layer `index`.
    var onLayerForward: ((Int) throws -> Void)?
    /// Called when forward leaves layer `index`.
    var onLayerForwardEnd: ((Int) throws -> Void)?
    /// Called during `backward` before any backward step of layer `index` runs.
    var onLayerBackward: ((Int) throws -> Void)?
    /// Called during `backward` once every backward step of layer `index` has run: the
    /// gradients of its parameters are final for this tape.
    var onLayerGradients: ((Int) throws -> Void)?

    /// Forward enters layer `index` (backward passes this point when it has finished the layer).
    func beginLayer(_ index: Int) throws {
        try onLayerForward?(index)
        record { [unowned self] in try self.onLayerGradients?(index) }
    }

    /// Forward leaves layer `index` (backward passes this point before it starts on the layer).
    func endLayer(_ index: Int) throws {
        try onLayerForwardEnd?(index)
        record { [unowned self] in try self.onLayerBackward?(index) }
    }

    /// Backpropagates from a scalar `loss` (seeded with `seed`, 1 by default).
    public func backward(from loss: Variable, seed: Float = 1) throws {
        precondition(loss.count == 1, "backward starts from a scalar, got \(loss.rows)×\(loss.cols)")
        try backward(from: loss, gradient: [seed])
    }

    /// Backpropagates `gradient` (d loss / d `output`, same shape) from any variable: a
    /// pipeline stage's output, whose gradient comes from the next stage.
    public func backward(from output: Variable, gradient: [Float]) throws {
        precondition(gradient.count == output.count, "backward: \(gradient.count) gradient values for \(output.count)")
        guard output.requiresGrad else { return }
        output.ensureGrad()
        Kernels.add(&output.grad, gradient)
        defer { steps = [] }
        for step in steps.reversed() { try step() }
    }
}
