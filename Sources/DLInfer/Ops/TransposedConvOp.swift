/// Conv1D/2DTranspose: GEMM into columns (scratch), then scatter-add (col2im), then the epilogue.
final class TransposedConvOp: CompiledOp {
    let node: Node
    let p: TransposedConvParams
    let weights: AlignedBuffer   // [kh*kw*cout, cin]
    let bias: AlignedBuffer?
    let cout: Int, cin: Int
    let constants: [[Int]]

    init(_ node: Node, _ p: TransposedConvParams, _ g: IRGraph) throws {
        self.node = node
        self.p = p
        let w = g.constants[p.weights]
        cout = w.shape[2]; cin = w.shape[3]
        weights = try AlignedBuffer(w.data)
        bias = try p.epilogue.bias.map { try AlignedBuffer(g.constants[$0].data) }
        constants = g.constantShapes
    }

    var label: String { "conv_transpose \(p.window.kh)x\(p.window.kw) gemm+col2im" }

    func plan(_ inputs: [Shape]) throws -> OpPlan {
        let out = try inferShapes(node.op, inputs, constants)
        let (_, h, w, _) = try nhwc(inputs[0], rank: p.window.rank)
        let colLen = try checkedMul(try checkedMul(p.window.kh, p.window.kw), cout)
        let scratch = try checkedMul(try checkedMul(try checkedMul(h, w), colLen), 4)
        return OpPlan(outputs: out, scratchBytes: scratch, flops: 2 * Double(try checkedCount(inputs[0])) * Double(colLen))
    }

    func run(_ s: Step) {
        let x = s.inputs[0], y = s.outputs[0]
        let (n, h, w, c) = nhwcDims(x.shape, rank: p.window.rank)
        let (_, oh, ow, _) = nhwcDims(y.shape, rank: p.window.rank)
        let axes = try? p.axes(h: h, w: w)
        let padH = axes?.0.padBefore ?? 0, padW = axes?.1.padBefore ?? 0
        let colLen = p.window.kh * p.window.kw * cout
        let cols = s.scratch!.assumingMemoryBound(to: Float.self)
        y.f32.update(repeating: 0, count: y.count)
        for img in 0..<n {
            sgemm(m: h * w, n: colLen, k: c, a: x.f32 + img * h * w * c, lda: c,
                  b: weights.pointer, ldb: c, transB: true, c: cols, ldc: colLen)
            col2imAdd(cols, channels: cout, inH: h, inW: w, kh: p.window.kh, kw: p.window.kw,
                      stride: (p.window.sh, p.window.sw), dilation: (p.window.dh, p.window.dw), padBefore: (padH, padW),
                      outH: oh, outW: ow, out: y.f32 + img * oh * ow * cout)
        }
        applyEpilogue(EpilogueArgs(bias: bias.map { UnsafePointer($0.pointer) }, residual: nil, activation: p.epilogue.activation),
                      y.f32, rows: n * oh * ow, cols: cout, ldc: cout)
    }
}
