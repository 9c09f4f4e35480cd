/// Sum/mean/max/min over axes (Keras ops.mean etc.), NaN-propagating for max/min.
final class ReduceOp: CompiledOp {
    let node: Node
    let kind: ReduceKind
    let axes: [Int]?
    init(_ node: Node, _ kind: ReduceKind, axes: [Int]?) { self.node = node; self.kind = kind; self.axes = axes }
    var label: String { node.op.kindName }

    /// aux = per input axis: 1 if reduced.
    func plan(_ inputs: [Shape]) throws -> OpPlan {
        let r = try reducedAxes(axes, rank: inputs[0].count)
        return OpPlan(outputs: try inferShapes(node.op, inputs, []), aux: (0..<inputs[0].count).map { r.contains($0) ? 1 : 0 })
    }

    func run(_ s: Step) {
        let x = s.inputs[0], y = s.outputs[0]
        let rank = x.shape.count
        y.f32.update(repeating: kind == .max ? -.infinity : (kind == .min ? .infinity : 0), count: y.count)
        if rank == 0 { y.f32[0] = x.f32[0]; return }
        withUnsafeTemporaryAllocation(of: Int.self, capacity: rank) { strides in
            var st = 1
            for d in stride(from: rank - 1, through: 0, by: -1) {
                strides[d] = s.aux[d] == 1 ? 0 : st
                if s.aux[d] == 0 { st *= x.shape[d] }
            }
            let inner = x.shape[rank - 1], step = strides[rank - 1]
            let kind = self.kind, out = y.f32
            x.shape.withUnsafeBufferPointer { shape in
                forEachRow(shape: shape, strides: UnsafeBufferPointer(strides)) { row, off, _ in
                    let src = x.f32 + row * inner
                    for j in 0..<inner {
                        let v = src[j], o = off + j * step
                        switch kind {
                        case .sum, .mean: out[o] += v
                        case .max: if v > out[o] || v.isNaN { out[o] = v }
                        case .min: if v < out[o] || v.isNaN { out[o] = v }
                        }
                    }
                }
            }
        }
        if kind == .mean {
            let k = Float(x.count / max(y.count, 1))
            for i in 0..<y.count { y.f32[i] /= k }
        }
    }
}
