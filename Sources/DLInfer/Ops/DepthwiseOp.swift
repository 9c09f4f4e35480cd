import CDLInferCPU

/// DepthwiseConv1D/2D: with multiplier 1, the tier's direct kernel (channels in vectors, the
/// epilogue before the store); with a larger multiplier, the reference loop then the epilogue.
final class DepthwiseOp: CompiledOp {
    let node: Node
    let p: DepthwiseParams
    let table: KernelTable
    let weights: AlignedBuffer   // [kh, kw, c * multiplier]
    let bias: AlignedBuffer?     // padded to whole vectors
    let channels: Int
    let constants: [[Int]]

    init(_ node: Node, _ p: DepthwiseParams, _ g: IRGraph, _ table: KernelTable) throws {
        self.node = node
        self.p = p
        self.table = table
        let w = g.constants[p.weights]
        channels = w.shape[2]
        weights = try AlignedBuffer(w.data)
        bias = try p.epilogue.bias.map { try paddedBias(g.constants[$0].data, panelWidth: 64) }
        constants = g.constantShapes
    }

    var label: String {
        let w = p.window
        let k = w.rank == 1 ? "\(w.kw)" : "\(w.kh)x\(w.kw)"
        let s = w.sh == 1 && w.sw == 1 ? "" : "/\(w.sw)"
        return "depthwise \(k)\(s) direct \(p.multiplier == 1 ? table.tier.rawValue : "reference")"
    }

    func plan(_ inputs: [Shape]) throws -> OpPlan {
        let out = try inferShapes(node.op, inputs, constants)
        return OpPlan(outputs: out, flops: 2 * Double(try checkedCount(out[0])) * Double(p.window.kh * p.window.kw),
                      weightBytes: weights.bytes)
    }

    /// One image's state for the threads' pieces (some output rows each).
    private struct Pieces {
        let table: KernelTable
        let split: RowSplit
        let conv: dl_dwconv
        let epilogue: dl_epilogue
    }

    func run(_ s: Step) {
        let x = s.inputs[0], y = s.outputs[0]
        let (n, h, w, c) = nhwcDims(x.shape, rank: p.window.rank)
        let (gh, gw) = p.window.runGeometry(h: h, w: w)
        let pixels = gh.output * gw.output, outC = c * p.multiplier
        let residual: UnsafePointer<Float>? = p.epilogue.residual ? UnsafePointer(s.inputs[1].f32) : nil
        guard p.multiplier == 1 else {
            for img in 0..<n {
                depthwiseConv(x.f32 + img * h * w * c, channels: c, multiplier: p.multiplier, h: gh, w: gw,
                              kernel: weights.pointer, out: y.f32 + img * pixels * outC)
            }
            applyEpilogue(EpilogueArgs(bias: bias.map { UnsafePointer($0.pointer) }, residual: residual, activation: p.epilogue.activation),
                          y.f32, rows: n * pixels, cols: outC, ldc: outC, math: table.vectorMath)
            return
        }
        let pool = s.pool(perImageOf: n)
        for img in 0..<n {
            let d = dl_dwconv(input: x.f32 + img * h * w * c, weights: weights.pointer, output: y.f32 + img * pixels * c, c: c,
                              window: p.window, h: gh, w: gw)
            let e = dl_epilogue(bias: bias.map { UnsafePointer($0.pointer) }, residual: residual.map { $0 + img * pixels * c },
                                ldResidual: c, registerPartOf: p.epilogue.activation)
            var job = Pieces(table: table, split: RowSplit(rows: gh.output, threads: pool.threads, align: 1, minimumRows: 2),
                             conv: d, epilogue: e)
            pool.parallel(job.split.count, &job) { raw, piece in
                let j = raw.assumingMemoryBound(to: Pieces.self)
                let r = j.pointee.split.range(piece)
                withUnsafePointer(to: j.pointee.conv) { dp in
                    withUnsafePointer(to: j.pointee.epilogue) { ep in j.pointee.table.depthwise(dp, ep, r.lowerBound, r.upperBound) }
                }
            }
        }
        if p.epilogue.activation.registerEpilogue == nil {
            applyEpilogue(EpilogueArgs(bias: nil, residual: nil, activation: p.epilogue.activation), y.f32, rows: n * pixels, cols: c, ldc: c, math: table.vectorMath)
        }
    }
}
