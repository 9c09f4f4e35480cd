/// Reshape, Flatten, Squeeze, ExpandDims and identity: the planner makes the output a view of
/// the input, so nothing runs (a copy only if the planner had to give it its own buffer).
final class ViewOp: CompiledOp {
    let node: Node
    init(_ node: Node) { self.node = node }
    var label: String { "\(node.op.kindName) (view)" }
    func plan(_ inputs: [Shape]) throws -> OpPlan { OpPlan(outputs: try inferShapes(node.op, inputs, [])) }
    func run(_ s: Step) {
        if s.outputs[0].data != s.inputs[0].data { s.outputs[0].data.copyMemory(from: s.inputs[0].data, byteCount: s.outputs[0].count * 4) }
    }
}

final class TransposeOp: CompiledOp {
    let node: Node
    let perm: [Int]
    init(_ node: Node, _ perm: [Int]) { self.node = node; self.perm = perm }
    var label: String { "transpose" }
    func plan(_ inputs: [Shape]) throws -> OpPlan { OpPlan(outputs: try inferShapes(node.op, inputs, [])) }
    func run(_ s: Step) { transposeKernel(s.inputs[0].f32, s.outputs[0].f32, shape: s.inputs[0].shape, perm: perm) }
}

final class ConcatOp: CompiledOp {
    let node: Node
    let axis: Int
    init(_ node: Node, axis: Int) { self.node = node; self.axis = axis }
    var label: String { "concat" }
    func plan(_ inputs: [Shape]) throws -> OpPlan { OpPlan(outputs: try inferShapes(node.op, inputs, [])) }

    func run(_ s: Step) {
        let y = s.outputs[0]
        let (outer, size, inner) = splitAround(y.shape, axis: axis)
        let rowOut = size * inner
        var offset = 0
        for t in s.inputs {
            let (_, ts, _) = splitAround(t.shape, axis: axis)
            let row = ts * inner
            for o in 0..<outer { (y.f32 + o * rowOut + offset).update(from: t.f32 + o * row, count: row) }
            offset += row
        }
    }
}

/// Python slicing; aux = per input axis (first, step, count, keeps-axis).
final class SliceOp: CompiledOp {
    let node: Node
    let spec: [AxisSlice]
    init(_ node: Node, _ spec: [AxisSlice]) { self.node = node; self.spec = spec }
    var label: String { "slice" }

    func plan(_ inputs: [Shape]) throws -> OpPlan {
        let out = try inferShapes(node.op, inputs, [])
        var aux: [Int] = []
        for (d, size) in inputs[0].enumerated() {
            if d < spec.count {
                let r = try spec[d].range(size)
                aux += [r.first, r.step, r.count]
            } else {
                aux += [0, 1, size]
            }
        }
        return OpPlan(outputs: out, aux: aux)
    }

    func run(_ s: Step) {
        let x = s.inputs[0], y = s.outputs[0]
        let r = x.shape.count
        if r == 0 || y.count == 0 { if y.count > 0 { y.f32[0] = x.f32[0] }; return }
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * r) { buf in
            let counts = UnsafeMutableBufferPointer(rebasing: buf[0..<r]), strides = UnsafeMutableBufferPointer(rebasing: buf[r..<(2 * r)])
            var st = 1, base = 0
            for d in stride(from: r - 1, through: 0, by: -1) {
                counts[d] = s.aux[3 * d + 2]
                strides[d] = s.aux[3 * d + 1] * st
                base += s.aux[3 * d] * st
                st *= x.shape[d]
            }
            let inner = counts[r - 1], step = strides[r - 1]
            var row = 0
            forEachRow(shape: UnsafeBufferPointer(counts), strides: UnsafeBufferPointer(strides)) { _, off, _ in
                let src = x.f32 + base + off, dst = y.f32 + row * inner
                for j in 0..<inner { dst[j] = src[j * step] }
                row += 1
            }
        }
    }
}

/// ZeroPadding, Cropping and UpSampling (nearest, bilinear) per image.
final class SpatialOp: CompiledOp {
    let node: Node
    let p: SpatialParams
    init(_ node: Node, _ p: SpatialParams) { self.node = node; self.p = p }
    var label: String { node.op.kindName }
    func plan(_ inputs: [Shape]) throws -> OpPlan { OpPlan(outputs: try inferShapes(node.op, inputs, [])) }

    func run(_ s: Step) {
        let x = s.inputs[0], y = s.outputs[0]
        let (n, h, w, c) = nhwcDims(x.shape, rank: p.rank)
        let (_, oh, ow, _) = nhwcDims(y.shape, rank: p.rank)
        if case .pad = p.kind { y.f32.update(repeating: 0, count: y.count) }
        for img in 0..<n {
            let src = x.f32 + img * h * w * c, dst = y.f32 + img * oh * ow * c
            switch p.kind {
            case .pad(let t, _, let l, _):
                for iy in 0..<h { (dst + ((iy + t) * ow + l) * c).update(from: src + iy * w * c, count: w * c) }
            case .crop(let t, _, let l, _):
                for oy in 0..<oh { (dst + oy * ow * c).update(from: src + ((oy + t) * w + l) * c, count: ow * c) }
            case .upsampleNearest(let sh, let sw):
                for oy in 0..<oh {
                    for ox in 0..<ow { (dst + (oy * ow + ox) * c).update(from: src + ((oy / sh) * w + ox / sw) * c, count: c) }
                }
            case .upsampleBilinear:
                resizeBilinear(src, height: h, width: w, channels: c, outHeight: oh, outWidth: ow, out: dst)
            }
        }
    }
}
