/// DepthwiseConv1D/2D: direct convolution per image, vectorised over channels, then the epilogue.
final class DepthwiseOp: CompiledOp {
    let node: Node
    let p: DepthwiseParams
    let weights: AlignedBuffer   // [kh, kw, c * multiplier]
    let bias: AlignedBuffer?
    let channels: Int
    let constants: [[Int]]

    init(_ node: Node, _ p: DepthwiseParams, _ g: IRGraph) throws {
        self.node = node
        self.p = p
        let w = g.constants[p.weights]
        channels = w.shape[2]
        weights = try AlignedBuffer(w.data)
        bias = try p.epilogue.bias.map { try AlignedBuffer(g.constants[$0].data) }
        constants = g.constantShapes
    }

    var label: String {
        let w = p.window
        return "depthwise \(w.rank == 1 ? "\(w.kw)" : "\(w.kh)x\(w.kw)")\(w.sh == 1 && w.sw == 1 ? "" : "/\(w.sw)") direct"
    }

    func plan(_ inputs: [Shape]) throws -> OpPlan {
        let out = try inferShapes(node.op, inputs, constants)
        return OpPlan(outputs: out, flops: 2 * Double(try checkedCount(out[0])) * Double(p.window.kh * p.window.kw))
    }

    func run(_ s: Step) {
        let x = s.inputs[0], y = s.outputs[0]
        let (n, h, w, c) = nhwcDims(x.shape, rank: p.window.rank)
        let (gh, gw) = p.window.runGeometry(h: h, w: w)
        let pixels = gh.output * gw.output, outC = c * p.multiplier
        for img in 0..<n {
            depthwiseConv(x.f32 + img * h * w * c, channels: c, multiplier: p.multiplier, h: gh, w: gw,
                          kernel: weights.pointer, out: y.f32 + img * pixels * outC)
        }
        applyEpilogue(EpilogueArgs(bias: bias.map { UnsafePointer($0.pointer) }, residual: p.epilogue.residual ? UnsafePointer(s.inputs[1].f32) : nil,
                                   activation: p.epilogue.activation), y.f32, rows: n * pixels, cols: outC, ldc: outC)
    }
}
