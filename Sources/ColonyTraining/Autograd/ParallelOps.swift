import ColonyCollectives

/// The two communicating operations of Megatron-style tensor parallelism, on the tape.
///
/// A column-parallel projection takes the whole input and yields this rank's slice of the
/// output features; a row-parallel one takes a slice of the input features and yields a
/// partial sum of the whole output. `enterParallel` goes before column-parallel products
/// (identity forward, all-reduce of the input's gradient backward: every rank's slice
/// contributed to it); `leaveParallel` after row-parallel ones (all-reduce forward,
/// identity backward). With no group both are the identity.
extension Tape {
    /// Megatron's `f`: `x` unchanged; its gradient summed over `group`.
    public func enterParallel(_ x: Variable, group: (any Collective)?) -> Variable {
        guard let group, group.size > 1 else { return x }
        let out = Variable(rows: x.rows, cols: x.cols, value: x.value, requiresGrad: x.requiresGrad)
        guard out.requiresGrad else { return out }
        record {
            guard !out.grad.isEmpty else { return }
            var g = out.grad
            try group.allReduce(&g, count: g.count, op: .sum, wire: .f32)
            x.ensureGrad()
            Kernels.add(&x.grad, g)
        }
        return out
    }

    /// Megatron's `g`: `x` summed over `group`; the gradient passes unchanged.
    public func leaveParallel(_ x: Variable, group: (any Collective)?) throws -> Variable {
        guard let group, group.size > 1 else { return x }
        let out = Variable(rows: x.rows, cols: x.cols, value: x.value, requiresGrad: x.requiresGrad)
        try group.allReduce(&out.value, count: out.count, op: .sum, wire: .f32)
        guard out.requiresGrad else { return out }
        record {
            guard !out.grad.isEmpty else { return }
            x.ensureGrad()
            Kernels.add(&x.grad, out.grad)
        }
        return out
    }
}
