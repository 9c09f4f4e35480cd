/// Conv1D/Conv2D (grouped): a 1x1 stride-1 unpadded convolution is one GEMM over all pixels;
/// anything else gathers patches (im2col, into the plan's scratch) and runs a GEMM per image
/// and group. Bias, a fused residual and the activation are applied as the epilogue.
final class ConvOp: CompiledOp {
    let node: Node
    let p: ConvParams
    let weights: AlignedBuffer   // [kh*kw*cg, cout]: Keras' layout is already the GEMM's B
    let bias: AlignedBuffer?
    let cg: Int, cout: Int
    let pointwise: Bool
    let constants: [[Int]]

    init(_ node: Node, _ p: ConvParams, _ g: IRGraph) throws {
        self.node = node
        self.p = p
        let w = g.constants[p.weights]
        cg = w.shape[2]; cout = w.shape[3]
        weights = try AlignedBuffer(w.data)
        bias = try p.epilogue.bias.map { try AlignedBuffer(g.constants[$0].data) }
        let win = p.window
        pointwise = win.kh == 1 && win.kw == 1 && win.sh == 1 && win.sw == 1 && p.groups == 1
            && (win.padding == .valid || win.padding == .same || win.padding == .explicit(top: 0, bottom: 0, left: 0, right: 0))
        constants = g.constantShapes
    }

    var label: String {
        let w = p.window
        let k = w.rank == 1 ? "\(w.kw)" : "\(w.kh)x\(w.kw)"
        let s = w.sh == 1 && w.sw == 1 ? "" : "/\(w.rank == 1 ? "\(w.sw)" : "\(w.sh)x\(w.sw)")"
        return "\(node.op.kindName) \(k)\(s)\(p.groups > 1 ? " g\(p.groups)" : "") \(pointwise ? "gemm" : "im2col+gemm")"
    }

    func plan(_ inputs: [Shape]) throws -> OpPlan {
        let out = try inferShapes(node.op, inputs, constants)
        let (_, oh, ow, _) = try nhwc(out[0], rank: p.window.rank)
        let pixels = try checkedMul(oh, ow)
        let rowLen = try checkedMul(try checkedMul(p.window.kh, p.window.kw), cg)
        let scratch = pointwise ? 0 : try checkedMul(try checkedMul(pixels, rowLen), 4)
        let flops = 2 * Double(try checkedCount(out[0])) * Double(rowLen)
        return OpPlan(outputs: out, scratchBytes: scratch, flops: flops)
    }

    func run(_ s: Step) {
        let x = s.inputs[0], y = s.outputs[0]
        let (n, h, w, c) = nhwcDims(x.shape, rank: p.window.rank)
        let (gh, gw) = p.window.runGeometry(h: h, w: w)
        let pixels = gh.output * gw.output
        let og = cout / p.groups
        let rowLen = p.window.kh * p.window.kw * cg
        if pointwise {
            sgemm(m: n * pixels, n: cout, k: c, a: x.f32, lda: c, b: weights.pointer, ldb: cout, c: y.f32, ldc: cout)
        } else {
            let cols = s.scratch!.assumingMemoryBound(to: Float.self)
            for img in 0..<n {
                let src = x.f32 + img * h * w * c
                let dst = y.f32 + img * pixels * cout
                for gi in 0..<p.groups {
                    im2col(src, channels: c, c0: gi * cg, cg: cg, h: gh, w: gw, cols: cols)
                    sgemm(m: pixels, n: og, k: rowLen, a: cols, lda: rowLen, b: weights.pointer + gi * og, ldb: cout,
                          c: dst + gi * og, ldc: cout)
                }
            }
        }
        applyEpilogue(EpilogueArgs(bias: bias.map { UnsafePointer($0.pointer) }, residual: p.epilogue.residual ? UnsafePointer(s.inputs[1].f32) : nil,
                                   activation: p.epilogue.activation), y.f32, rows: n * pixels, cols: cout, ldc: cout)
    }
}
