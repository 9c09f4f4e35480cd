/// Conv1D/2DTranspose by stride phases (Kernels/TransposedConv.swift): each of the sh·sw output
/// phases is a stride-1 convolution with the taps that reach it, run as an indirect GEMM into the
/// output with bias and activation fused; the sub-kernels are packed at load. With few output
/// channels, one GEMM of all taps per image and a gather with the epilogue instead.
final class TransposedConvOp: CompiledOp {
    let node: Node
    let p: TransposedConvParams
    let conv: PhasedTransposedConv
    /// The padding before the data on each axis, which TensorFlow's rules make independent of
    /// the input size (checked again for each planned shape).
    let padBefore: (h: Int, w: Int)
    let constants: [[Int]]

    init(_ node: Node, _ p: TransposedConvParams, _ g: IRGraph, _ table: KernelTable) throws {
        self.node = node
        self.p = p
        let w = g.constants[p.weights]
        // Any input size gives the same padding; 64 gives a non-empty output for every kernel.
        let axes = try p.axes(h: p.window.rank == 1 ? 1 : 64, w: 64)
        let pads = (h: axes.0.padBefore, w: axes.1.padBefore)
        padBefore = pads
        conv = try w.data.withUnsafeBufferPointer { wp in
            try PhasedTransposedConv(kernel: wp.baseAddress!, kh: p.window.kh, kw: p.window.kw, cin: w.shape[3], cout: w.shape[2],
                                     stride: (p.window.sh, p.window.sw), dilation: (p.window.dh, p.window.dw),
                                     padBefore: pads, bias: p.epilogue.bias.map { g.constants[$0].data },
                                     activation: p.epilogue.activation, table: table)
        }
        constants = g.constantShapes
    }

    var label: String {
        let w = p.window
        let k = w.rank == 1 ? "\(w.kw)" : "\(w.kh)x\(w.kw)"
        let s = w.sh == 1 && w.sw == 1 ? "" : "/\(w.rank == 1 ? "\(w.sw)" : "\(w.sh)x\(w.sw)")"
        return "conv_transpose \(k)\(s) \(conv.columns != nil ? "gemm+gather" : "phased indirect gemm") \(conv.table.tier.rawValue)"
    }

    func plan(_ inputs: [Shape]) throws -> OpPlan {
        let out = try inferShapes(node.op, inputs, constants)
        let (_, h, w, _) = try nhwc(inputs[0], rank: p.window.rank)
        let (_, oh, ow, _) = try nhwc(out[0], rank: p.window.rank)
        let axes = try p.axes(h: h, w: w)
        guard axes.0.padBefore == padBefore.h && axes.1.padBefore == padBefore.w else {
            throw DLError(.internal, "transposed convolution padding depends on the input size")
        }
        let scratch = try conv.scratchBytes(h: h, w: w, oh: oh, ow: ow)
        // The MACs of the scatter form (every input pixel times every tap), as before.
        let taps = try checkedMul(try checkedMul(p.window.kh, p.window.kw), conv.cout)
        return OpPlan(outputs: out, scratchBytes: scratch, flops: 2 * Double(try checkedCount(inputs[0])) * Double(taps),
                      weightBytes: conv.weightBytes)
    }

    func run(_ s: Step) {
        let x = s.inputs[0], y = s.outputs[0]
        let (n, h, w, _) = nhwcDims(x.shape, rank: p.window.rank)
        let (_, oh, ow, _) = nhwcDims(y.shape, rank: p.window.rank)
        conv.run(x: x.f32, n: n, h: h, w: w, y: y.f32, oh: oh, ow: ow, residual: nil, scratch: s.scratch, pool: s.pool(perImageOf: n))
    }
}
