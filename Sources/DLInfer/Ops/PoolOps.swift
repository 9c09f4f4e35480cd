import CDLInferCPU

/// Max/average pooling (TensorFlow padding semantics): the tier's kernel, split by output rows.
final class PoolOp: CompiledOp {
    let node: Node
    let p: PoolParams
    let table: KernelTable
    init(_ node: Node, _ p: PoolParams, _ table: KernelTable) { self.node = node; self.p = p; self.table = table }
    var label: String {
        let w = p.window
        return node.op.kindName + " \(w.kh)x\(w.kw)/\(w.sw) \(table.tier.rawValue)"
    }
    func plan(_ inputs: [Shape]) throws -> OpPlan { OpPlan(outputs: try inferShapes(node.op, inputs, [])) }

    /// One image's state for the threads' pieces (some output rows each).
    private struct Pieces {
        let table: KernelTable
        let split: RowSplit
        let pool: dl_pool
    }

    func run(_ s: Step) {
        let x = s.inputs[0], y = s.outputs[0]
        let (n, h, w, c) = nhwcDims(x.shape, rank: p.window.rank)
        let (gh, gw) = p.window.runGeometry(h: h, w: w)
        let split = RowSplit(rows: gh.output, threads: s.pool.threads, align: 1, minimumRows: 2)
        for img in 0..<n {
            let d = dl_pool(input: x.f32 + img * h * w * c, output: y.f32 + img * gh.output * gw.output * c,
                            h: Int64(h), w: Int64(w), c: Int64(c), oh: Int64(gh.output), ow: Int64(gw.output),
                            kh: Int64(p.window.kh), kw: Int64(p.window.kw), sh: Int64(p.window.sh), sw: Int64(p.window.sw),
                            pad_top: Int64(gh.padBefore), pad_left: Int64(gw.padBefore), is_max: p.kind == .max ? 1 : 0)
            var job = Pieces(table: table, split: split, pool: d)
            s.pool.parallel(split.count, &job) { raw, piece in
                let j = raw.assumingMemoryBound(to: Pieces.self)
                let r = j.pointee.split.range(piece)
                withUnsafePointer(to: j.pointee.pool) { j.pointee.table.pool($0, r.lowerBound, r.upperBound) }
            }
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
