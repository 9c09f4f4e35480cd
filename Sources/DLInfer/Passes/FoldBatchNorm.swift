/// Folds a per-channel affine op (inference BatchNormalization) into the convolution, depthwise
/// convolution or dense layer before it: W' = W * scale[out channel], b' = b * scale + shift.
/// A BatchNormalization with nothing to fold into stays one affine op.
enum FoldBatchNorm {
    static func run(_ g: inout IRGraph) -> Int {
        var r = Rewriter(moving: &g)
        var count = 0
        // Weights are dropped as soon as nothing uses them, so folding never holds two copies.
        var uses = [Int](repeating: 0, count: r.graph.constants.count)
        for n in r.graph.nodes { for c in n.op.constants { uses[c] += 1 } }
        for v in r.graph.values { if let c = v.constant { uses[c] += 1 } }
        for i in r.graph.nodes.indices {
            guard case .affine(let a) = r.graph.nodes[i].op, let v = r.graph.nodes[i].inputs.first,
                  let pi = r.producer[v], !r.removed[pi], r.onlyReadOnceInternally(v) else { continue }
            let producer = r.graph.nodes[pi]
            guard let e = producer.op.epilogue, e.activation == .linear, !e.residual else { continue }
            let rank = r.graph.values[v].shape.count
            guard (a.axis < 0 ? a.axis + rank : a.axis) == rank - 1 else { continue }
            let weightsID: ConstID
            switch producer.op {
            case .conv(let p): weightsID = p.weights
            case .depthwise(let p): weightsID = p.weights
            case .dense(let p): weightsID = p.weights
            default: continue
            }
            let w = r.graph.constants[weightsID]
            let outChannels: Int
            switch producer.op {
            case .depthwise: outChannels = w.shape[2] * w.shape[3]
            default: outChannels = w.shape[w.shape.count - 1]
            }
            let scale = r.graph.constants[a.scale].data, shift = r.graph.constants[a.shift].data
            guard scale.count == 1 || scale.count == outChannels else { continue }
            func s(_ c: Int) -> Float { scale.count == 1 ? scale[0] : scale[c] }
            func t(_ c: Int) -> Float { shift.count == 1 ? shift[0] : shift[c] }
            var folded = w.data
            for k in folded.indices { folded[k] *= s(k % outChannels) }
            let oldBias = e.bias.map { r.graph.constants[$0].data } ?? [Float](repeating: 0, count: outChannels)
            let bias = (0..<outChannels).map { oldBias[$0] * s($0) + t($0) }
            let newWeights = r.graph.addConstant(ConstTensor(shape: w.shape, data: folded))
            var newEpilogue = e
            newEpilogue.bias = r.graph.addConstant(ConstTensor(shape: [outChannels], data: bias))
            var op = producer.op.with(epilogue: newEpilogue)
            switch op {
            case .conv(var p): p.weights = newWeights; op = .conv(p)
            case .depthwise(var p): p.weights = newWeights; op = .depthwise(p)
            case .dense(var p): p.weights = newWeights; op = .dense(p)
            default: break
            }
            for c in producer.op.constants + [a.scale, a.shift] {
                uses[c] -= 1
                if uses[c] == 0 { r.graph.constants[c].data = [] }
            }
            r.graph.nodes[pi].op = op
            r.graph.nodes[pi].origin += r.graph.nodes[i].origin
            r.remove(i)
            r.setOutputs(pi, r.graph.nodes[i].outputs)
            count += 1
        }
        r.releaseUnusedConstants()
        g = r.finish()
        return count
    }
}
