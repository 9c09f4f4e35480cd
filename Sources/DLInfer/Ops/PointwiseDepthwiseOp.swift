import CDLInferCPU

/// A 1x1 convolution and the depthwise convolution that alone reads it, in bands of output rows:
/// a band's input rows of the expanded tensor are computed into the thread's scratch (the 1x1
/// GEMM with its epilogue), then the depthwise kernel turns them into the band's output rows.
/// Each thread takes a contiguous range of output rows; bands recompute the rows they share with
/// the previous band (one for a stride-2 3x3, two for stride 1).
final class PointwiseDepthwiseOp: CompiledOp {
    let node: Node
    let p: PointwiseDepthwiseParams
    let table: KernelTable
    let expand: PackedMatrix
    let expandBias: AlignedBuffer?
    let depthwise: AlignedBuffer   // [kh, kw, mid]
    let depthwiseBias: AlignedBuffer?
    let cin: Int, mid: Int
    let constants: [[Int]]

    init(_ node: Node, _ p: PointwiseDepthwiseParams, _ g: IRGraph, _ table: KernelTable) throws {
        self.node = node
        self.p = p
        self.table = table
        let w = g.constants[p.pointwise.weights]
        let cin = w.shape[2], mid = w.shape[3]
        self.cin = cin
        self.mid = mid
        expand = try w.data.withUnsafeBufferPointer {
            try PackedMatrix($0.baseAddress!, k: cin, n: mid, ldb: mid, panelWidth: table.packWidth(mid))
        }
        expandBias = try p.pointwise.epilogue.bias.map { try paddedBias(g.constants[$0].data, panelWidth: table.panelWidth) }
        depthwise = try AlignedBuffer(g.constants[p.depthwise.weights].data)
        depthwiseBias = try p.depthwise.epilogue.bias.map { try paddedBias(g.constants[$0].data, panelWidth: 64) }
        constants = g.constantShapes
    }

    var label: String {
        let w = p.depthwise.window
        return "conv2d 1x1 gemm + depthwise \(w.kh)x\(w.kw)\(w.sh == 1 && w.sw == 1 ? "" : "/\(w.sw)") in row bands \(table.tier.rawValue)"
    }

    func plan(_ inputs: [Shape]) throws -> OpPlan { try plan(inputs, threads: 1) }

    /// aux: [output rows per band, expanded floats per band].
    func plan(_ inputs: [Shape], threads: Int) throws -> OpPlan {
        let out = try inferShapes(node.op, inputs, constants)
        let (_, _, w, _) = try nhwc(inputs[0], rank: 2)
        let win = p.depthwise.window
        let rowFloats = try checkedMul(w, mid)
        let reach = (win.kh - 1) * win.dh + 1   // input rows under one output row
        let rowsIn = max(reach, p.bandFloats / max(rowFloats, 1))
        let band = (rowsIn - reach) / win.sh + 1
        let floats = try checkedMul((band - 1) * win.sh + reach, rowFloats)
        let pixelsIn = try checkedCount(inputs[0]) / max(inputs[0].last ?? 1, 1)
        let flops = 2 * Double(pixelsIn) * Double(cin * mid) + 2 * Double(try checkedCount(out[0])) * Double(win.kh * win.kw)
        return OpPlan(outputs: out, scratchBytes: try checkedMul(try checkedMul(floats, max(threads, 1)), 4), flops: flops,
                      aux: [band, floats])
    }

    /// One image's state for the threads' pieces (a contiguous range of output rows each).
    private struct Pieces {
        let op: PointwiseDepthwiseOp
        let x: UnsafePointer<Float>
        let scratch: UnsafeMutablePointer<Float>
        let conv: dl_dwconv   // input, h and pad_top are set per band (pad_top here is the image's)
        let epilogue: dl_epilogue
        let h: Int, w: Int, pieces: Int, band: Int, bandFloats: Int

        /// Output rows [oh * piece / pieces, oh * (piece + 1) / pieces), band by band.
        func runPiece(_ piece: Int) {
            let oh = Int(conv.oh), sh = Int(conv.sh), padTop = Int(conv.pad_top)
            let reach = (Int(conv.kh) - 1) * Int(conv.dh) + 1
            let buffer = scratch + piece * bandFloats
            let expandAct = op.p.pointwise.epilogue.activation, dwAct = op.p.depthwise.epilogue.activation
            var o0 = oh * piece / pieces
            let end = oh * (piece + 1) / pieces
            while o0 < end {
                let o1 = min(end, o0 + band)
                // The image rows under output rows [o0, o1) (rows in the padding are not computed).
                let a = min(h, max(0, o0 * sh - padTop)), b = max(a, min(h, (o1 - 1) * sh - padTop + reach))
                if b > a {
                    op.table.gemm(m: (b - a) * w, a: x + a * w * op.cin, lda: op.cin, b: op.expand, c: buffer, ldc: op.mid,
                                  bias: op.expandBias.map { UnsafePointer($0.pointer) }, residual: nil, activation: expandAct)
                }
                // Band row 0 is image row a: the kernel sees a band-high image padded by padTop + a.
                var d = conv
                d.input = UnsafePointer(buffer)
                d.h = Int64(b - a)
                d.pad_top = Int64(padTop + a)
                withUnsafePointer(to: d) { dp in withUnsafePointer(to: epilogue) { op.table.depthwise(dp, $0, o0, o1) } }
                if dwAct.registerEpilogue == nil {
                    let ow = Int(conv.ow)
                    applyEpilogue(EpilogueArgs(bias: nil, residual: nil, activation: dwAct), conv.output + o0 * ow * op.mid,
                                  rows: (o1 - o0) * ow, cols: op.mid, ldc: op.mid, math: op.table.vectorMath)
                }
                o0 = o1
            }
        }
    }

    func run(_ s: Step) {
        let x = s.inputs[0], y = s.outputs[0]
        let (n, h, w, _) = nhwcDims(x.shape, rank: 2)
        let win = p.depthwise.window
        let (gh, gw) = win.runGeometry(h: h, w: w)
        let pixels = gh.output * gw.output
        let pool = s.pool(perImageOf: n)
        for img in 0..<n {
            let d = dl_dwconv(input: nil, weights: depthwise.pointer, output: y.f32 + img * pixels * mid,
                              h: 0, w: Int64(w), c: Int64(mid), oh: Int64(gh.output), ow: Int64(gw.output),
                              kh: Int64(win.kh), kw: Int64(win.kw), sh: Int64(win.sh), sw: Int64(win.sw),
                              dh: Int64(win.dh), dw: Int64(win.dw), pad_top: Int64(gh.padBefore), pad_left: Int64(gw.padBefore))
            let e = dl_epilogue(bias: depthwiseBias.map { UnsafePointer($0.pointer) }, residual: nil, ldResidual: mid,
                                registerPartOf: p.depthwise.epilogue.activation)
            var job = Pieces(op: self, x: x.f32 + img * h * w * cin, scratch: s.scratch!.assumingMemoryBound(to: Float.self),
                             conv: d, epilogue: e, h: h, w: w, pieces: min(pool.threads, gh.output), band: s.aux[0],
                             bandFloats: s.aux[1])
            pool.parallel(job.pieces, &job) { raw, piece in
                raw.assumingMemoryBound(to: Pieces.self).pointee.runPiece(piece)
            }
        }
    }
}
