import CBLAS

/// Dense: one GEMM (a GEMV for a single row) over the flattened leading dims, then the epilogue.
final class DenseOp: CompiledOp {
    let node: Node
    let weights: AlignedBuffer   // [k, n], row-major
    let bias: AlignedBuffer?
    let k: Int, n: Int
    let epilogue: Epilogue
    let constants: [[Int]]

    init(_ node: Node, _ p: DenseParams, _ g: IRGraph) throws {
        self.node = node
        let w = g.constants[p.weights]
        k = w.shape[0]; n = w.shape[1]
        weights = try AlignedBuffer(w.data)
        bias = try p.epilogue.bias.map { try AlignedBuffer(g.constants[$0].data) }
        epilogue = p.epilogue
        constants = g.constantShapes
    }

    var label: String { "dense \(k)x\(n)" }

    func plan(_ inputs: [Shape]) throws -> OpPlan {
        let out = try inferShapes(node.op, inputs, constants)
        let rows = try checkedCount(Array(inputs[0].dropLast()))
        return OpPlan(outputs: out, flops: 2 * Double(rows) * Double(k) * Double(n))
    }

    func run(_ s: Step) {
        let x = s.inputs[0], y = s.outputs[0]
        let m = x.count / max(k, 1)
        if m == 1 {
            cblas_sgemv(CblasRowMajor, CblasTrans, blasint(k), blasint(n), 1, weights.pointer, blasint(n), x.f32, 1, 0, y.f32, 1)
        } else {
            sgemm(m: m, n: n, k: k, a: x.f32, lda: k, b: weights.pointer, ldb: n, c: y.f32, ldc: n)
        }
        applyEpilogue(EpilogueArgs(bias: bias.map { UnsafePointer($0.pointer) }, residual: epilogue.residual ? UnsafePointer(s.inputs[1].f32) : nil,
                                   activation: epilogue.activation), y.f32, rows: m, cols: n, ldc: n)
    }
}
