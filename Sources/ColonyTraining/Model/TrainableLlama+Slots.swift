/// Where one trainable variable of a partition lives in the whole model: all of a
/// variable, some of its rows, or some of its columns.
struct ParameterSlot {
    enum Part {
        case all
        case rows(Range<Int>)
        case columns(Range<Int>)
    }

    let variable: Variable
    let part: Part

    var count: Int {
        switch part {
        case .all: return variable.count
        case .rows(let r): return r.count * variable.cols
        case .columns(let c): return variable.rows * c.count
        }
    }

    /// Writes a partition's values (row after row of its slice) into the whole variable.
    func write(_ values: ArraySlice<Float>) {
        precondition(values.count == count, "slot of \(count) values given \(values.count)")
        let start = values.startIndex
        switch part {
        case .all:
            variable.value = Array(values)
        case .rows(let r):
            variable.value.replaceSubrange((r.lowerBound * variable.cols)..<(r.upperBound * variable.cols), with: values)
        case .columns(let c):
            for row in 0..<variable.rows {
                let from = start + row * c.count
                variable.value.replaceSubrange(
                    (row * variable.cols + c.lowerBound)..<(row * variable.cols + c.upperBound), with: values[from..<(from + c.count)])
            }
        }
    }
}

extension TrainableLlama {
    /// The whole model's trainable variables behind `partitioned(p)`'s, in the order of its
    /// `placedParameters`: how the lead rank puts a mesh's parts back together.
    func slots(for p: ModelPartition) -> [ParameterSlot] {
        precondition(partition.isWhole, "slots are places in the whole model")
        let d = config.headDimension
        let tp = p.tensorParallel > 1
        let heads = (p.heads.lowerBound * d)..<(p.heads.upperBound * d)
        let kv = (p.kvGroups.lowerBound * d)..<(p.kvGroups.upperBound * d)
        var out: [ParameterSlot] = []
        func whole(_ v: Variable) { out.append(ParameterSlot(variable: v, part: .all)) }
        func projection(_ x: Projection, column range: Range<Int>?, row columns: Range<Int>?) {
            if case .trainable(let w) = x.base {
                out.append(ParameterSlot(variable: w, part: !tp ? .all : range.map { .rows($0) } ?? .columns(columns!)))
            }
            guard let lora = x.lora else { return }
            out.append(ParameterSlot(variable: lora.a, part: !tp || range != nil ? .all : .columns(columns!)))
            out.append(ParameterSlot(variable: lora.b, part: !tp || range == nil ? .all : .rows(range!)))
        }
        if p.isFirstStage || (p.isLastStage && output == nil), case .trainable(let e)? = embedding { whole(e) }
        for l in layers[p.layers] {
            if l.attentionNorm.requiresGrad { whole(l.attentionNorm) }
            if l.ffnNorm.requiresGrad { whole(l.ffnNorm) }
            projection(l.q, column: heads, row: nil)
            projection(l.k, column: kv, row: nil)
            projection(l.v, column: kv, row: nil)
            projection(l.o, column: nil, row: heads)
            projection(l.gate, column: p.feedForward, row: nil)
            projection(l.up, column: p.feedForward, row: nil)
            projection(l.down, column: nil, row: p.feedForward)
        }
        if p.isLastStage {
            if let outputNorm, outputNorm.requiresGrad { whole(outputNorm) }
            if case .trainable(let o)? = output { whole(o) }
        }
        return out
    }
}
