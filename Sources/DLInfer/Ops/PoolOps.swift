/// Max/average pooling (TensorFlow padding semantics) per image.
final class PoolOp: CompiledOp {
    let node: Node
    let p: PoolParams
    init(_ node: Node, _ p: PoolParams) { self.node = node; self.p = p }
    var label: String {
        let w = p.window
        return node.op.kindName + " \(w.kh)x\(w.kw)/\(w.sw)"
    }
    func plan(_ inputs: [Shape]) throws -> OpPlan { OpPlan(outputs: try inferShapes(node.op, inputs, [])) }

    func run(_ s: Step) {
        let x = s.inputs[0], y = s.outputs[0]
        let (n, h, w, c) = nhwcDims(x.shape, rank: p.window.rank)
        let (gh, gw) = p.window.runGeometry(h: h, w: w)
        for img in 0..<n {
            pool2d(x.f32 + img * h * w * c, channels: c, h: gh, w: gw, kind: p.kind,
                   out: y.f32 + img * gh.output * gw.output * c)
        }
    }
}

/// GlobalAverage/GlobalMaxPooling over the spatial axes, accumulated across channels.
final class GlobalPoolOp: CompiledOp {
    let node: Node
    let kind: PoolKind
    init(_ node: Node, _ kind: PoolKind) { self.node = node; self.kind = kind }
    var label: String { node.op.kindName }
    func plan(_ inputs: [Shape]) throws -> OpPlan { OpPlan(outputs: try inferShapes(node.op, inputs, [])) }

    func run(_ s: Step) {
        let x = s.inputs[0], y = s.outputs[0]
        let n = x.shape[0], c = x.shape[x.shape.count - 1]
        let pixels = x.count / max(n * c, 1)
        for img in 0..<n {
            let out = y.f32 + img * c
            out.update(repeating: kind == .max ? -.infinity : 0, count: c)
            for p in 0..<pixels {
                let src = x.f32 + (img * pixels + p) * c
                if kind == .max {
                    for ch in 0..<c { let v = src[ch]; if v > out[ch] || v.isNaN { out[ch] = v } }
                } else {
                    for ch in 0..<c { out[ch] += src[ch] }
                }
            }
            if kind == .average {
                let inv = 1 / Float(pixels)
                for ch in 0..<c { out[ch] *= inv }
            }
        }
    }
}
