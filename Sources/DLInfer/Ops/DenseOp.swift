/// Dense: one GEMM over the flattened leading dims (the 1-row tile for a single row), with bias,
/// a fused residual and the activation in its epilogue.
final class DenseOp: CompiledOp {
    let node: Node
    let table: KernelTable
    let weights: PackedMatrix
    let bias: AlignedBuffer?
    let epilogue: Epilogue
    let constants: [[Int]]

    init(_ node: Node, _ p: DenseParams, _ g: IRGraph, _ table: KernelTable) throws {
        self.node = node
        self.table = table
        let w = g.constants[p.weights]
        weights = try w.data.withUnsafeBufferPointer {
            try PackedMatrix($0.baseAddress!, k: w.shape[0], n: w.shape[1], ldb: w.shape[1], panelWidth: table.packWidth(w.shape[1]))
        }
        bias = try p.epilogue.bias.map { try paddedBias(g.constants[$0].data, panelWidth: table.panelWidth) }
        epilogue = p.epilogue
        constants = g.constantShapes
    }

    var label: String { "dense \(weights.k)x\(weights.n) \(table.tier.rawValue)" }

    func plan(_ inputs: [Shape]) throws -> OpPlan {
        let out = try inferShapes(node.op, inputs, constants)
        let rows = try checkedCount(Array(inputs[0].dropLast()))
        return OpPlan(outputs: out, flops: 2 * Double(rows) * Double(weights.k) * Double(weights.n), weightBytes: weights.bytes)
    }

    /// One run's state for the threads' pieces (some rows or column panels each).
    private struct Pieces {
        let op: DenseOp
        let split: GemmSplit
        let x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>
        let residual: UnsafePointer<Float>?
    }

    func run(_ s: Step) {
        let x = s.inputs[0], y = s.outputs[0]
        let m = x.count / max(weights.k, 1)
        var job = Pieces(op: self, split: GemmSplit(m: m, b: weights, threads: s.pool.threads), x: x.f32, y: y.f32,
                         residual: epilogue.residual ? UnsafePointer(s.inputs[1].f32) : nil)
        s.pool.parallel(job.split.count, &job) { raw, piece in
            let j = raw.assumingMemoryBound(to: Pieces.self).pointee, op = j.op
            let (rows, panels) = j.split.ranges(piece)
            op.table.gemm(m: j.split.m, a: j.x, lda: op.weights.k, b: op.weights, c: j.y, ldc: op.weights.n,
                          bias: op.bias.map { UnsafePointer($0.pointer) }, residual: j.residual,
                          activation: op.epilogue.activation, rows: rows, panels: panels)
        }
    }
}
