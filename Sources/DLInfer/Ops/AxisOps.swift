import Glibc

/// Splits a shape around an axis: (outer, size, inner).
@inline(__always)
func splitAround(_ shape: [Int], axis: Int) -> (Int, Int, Int) {
    let a = axis < 0 ? axis + shape.count : axis
    var outer = 1, inner = 1
    for d in 0..<a { outer *= shape[d] }
    for d in (a + 1)..<shape.count { inner *= shape[d] }
    return (outer, shape[a], inner)
}

/// Numerically stable (log-)softmax along one axis (may run in place). Along the last axis, each
/// row goes through the tier's row kernels; along another axis, a strided scalar loop.
final class SoftmaxOp: CompiledOp {
    let node: Node
    let axis: Int, log: Bool
    let math: MathKernels
    init(_ node: Node, axis: Int, log: Bool, math: MathKernels) {
        self.node = node; self.axis = axis; self.log = log; self.math = math
    }
    var label: String { node.op.kindName }
    func plan(_ inputs: [Shape]) throws -> OpPlan { OpPlan(outputs: try inferShapes(node.op, inputs, [])) }

    func run(_ s: Step) {
        let x = s.inputs[0].f32, y = s.outputs[0].f32
        let (outer, n, inner) = splitAround(s.inputs[0].shape, axis: axis)
        if inner == 1 {
            for o in 0..<outer {
                let row = x + o * n, out = y + o * n
                let m = math.rowMax(row, n)
                if log {
                    let sum = math.expShiftSum(row, nil, n, m)
                    math.subtractTwice(row, out, n, m, logf(sum))
                } else {
                    let sum = math.expShiftSum(row, out, n, m)
                    math.divideBy(out, n, sum)
                }
            }
            return
        }
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * n * inner + i
                var m = -Float.infinity
                for k in 0..<n { m = Swift.max(m, x[base + k * inner]) }
                var sum: Float = 0
                for k in 0..<n { sum += expf(x[base + k * inner] - m) }
                if log {
                    let ls = logf(sum)
                    for k in 0..<n { y[base + k * inner] = x[base + k * inner] - m - ls }
                } else {
                    for k in 0..<n { y[base + k * inner] = expf(x[base + k * inner] - m) / sum }
                }
            }
        }
    }
}

/// Sparsemax as Keras computes it on every backend: support_j = z_(j) - (cumsum_j - 1) / j > 0
/// over the descending sort, tau = (sum of cumsum over the support - 1) / |support|.
final class SparsemaxOp: CompiledOp {
    let node: Node
    let axis: Int
    init(_ node: Node, axis: Int) { self.node = node; self.axis = axis }
    var label: String { "sparsemax" }
    func plan(_ inputs: [Shape]) throws -> OpPlan {
        let out = try inferShapes(node.op, inputs, [])
        let (_, n, _) = splitAround(inputs[0], axis: axis)
        return OpPlan(outputs: out, scratchBytes: try checkedMul(n, 4))
    }

    func run(_ s: Step) {
        let x = s.inputs[0].f32, y = s.outputs[0].f32
        let z = s.scratch!.assumingMemoryBound(to: Float.self)
        let (outer, n, inner) = splitAround(s.inputs[0].shape, axis: axis)
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * n * inner + i
                for k in 0..<n {   // insertion sort, descending
                    let v = x[base + k * inner]
                    var j = k
                    while j > 0 && z[j - 1] < v { z[j] = z[j - 1]; j -= 1 }
                    z[j] = v
                }
                var cumulative: Float = 0, support: Float = 0, supportSum: Float = 0
                for k in 0..<n {
                    cumulative += z[k]
                    if z[k] - (cumulative - 1) / Float(k + 1) > 0 { support += 1; supportSum += cumulative }
                }
                let tau = (supportSum - 1) / support
                for k in 0..<n { y[base + k * inner] = Swift.max(x[base + k * inner] - tau, 0) }
            }
        }
    }
}

/// GLU: splits the axis in halves a, b and returns a * sigmoid(b).
final class GLUOp: CompiledOp {
    let node: Node
    let axis: Int
    init(_ node: Node, axis: Int) { self.node = node; self.axis = axis }
    var label: String { "glu" }
    func plan(_ inputs: [Shape]) throws -> OpPlan { OpPlan(outputs: try inferShapes(node.op, inputs, [])) }

    func run(_ s: Step) {
        let x = s.inputs[0].f32, y = s.outputs[0].f32
        let (outer, n, inner) = splitAround(s.inputs[0].shape, axis: axis)
        let half = n / 2 * inner
        for o in 0..<outer {
            for i in 0..<half {
                let a = x[o * n * inner + i], g = x[o * n * inner + half + i]
                y[o * half + i] = a * (1 / (1 + expf(-g)))
            }
        }
    }
}

/// LayerNormalization over any axes: rows when the axes are trailing, else through a transpose
/// into scratch and back.
final class LayerNormOp: CompiledOp {
    let node: Node
    let p: LayerNormParams
    let gamma: AlignedBuffer?, beta: AlignedBuffer?
    let constants: [[Int]]

    let math: MathKernels

    init(_ node: Node, _ p: LayerNormParams, _ g: IRGraph, math: MathKernels) throws {
        self.node = node
        self.p = p
        self.math = math
        gamma = try p.gamma.map { try AlignedBuffer(g.constants[$0].data) }
        beta = try p.beta.map { try AlignedBuffer(g.constants[$0].data) }
        constants = g.constantShapes
    }

    var label: String { "layer_norm" }

    /// aux = [trailing (0/1), normalised size n, perm..., inverse perm...]
    func plan(_ inputs: [Shape]) throws -> OpPlan {
        let out = try inferShapes(node.op, inputs, constants)
        let rank = inputs[0].count
        let axes = try normalizedLayerNormAxes(p.axes, rank: rank)
        let perm = (0..<rank).filter { !axes.contains($0) } + axes
        var inverse = [Int](repeating: 0, count: rank)
        for (i, q) in perm.enumerated() { inverse[q] = i }
        let trailing = perm == Array(0..<rank)
        let n = try checkedCount(axes.map { inputs[0][$0] })
        return OpPlan(outputs: out, scratchBytes: trailing ? 0 : try checkedMul(try checkedCount(inputs[0]), 8),
                      aux: [trailing ? 1 : 0, n] + perm + inverse)
    }

    func run(_ s: Step) {
        let x = s.inputs[0], y = s.outputs[0]
        let rank = x.shape.count, n = s.aux[1]
        let rows = x.count / max(n, 1)
        if s.aux[0] == 1 {
            normalizeRows(x.f32, y.f32, rows: rows, n: n)
            return
        }
        let perm = s.aux[2..<(2 + rank)], inverse = s.aux[(2 + rank)...]
        let t = s.scratch!.assumingMemoryBound(to: Float.self), u = t + x.count
        transposeKernel(x.f32, t, shape: x.shape, perm: perm)
        normalizeRows(t, u, rows: rows, n: n)
        withUnsafeTemporaryAllocation(of: Int.self, capacity: rank) { tshape in
            for (i, q) in perm.enumerated() { tshape[i] = x.shape[q] }
            transposeKernel(u, y.f32, shape: UnsafeBufferPointer(tshape), perm: inverse)
        }
    }

    private func normalizeRows(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, rows: Int, n: Int) {
        let g = gamma.map { UnsafePointer($0.pointer) }, b = beta.map { UnsafePointer($0.pointer) }
        for r in 0..<rows {
            let row = src + r * n, out = dst + r * n
            let (mean, variance) = math.meanVariance(row, n)
            let inv = Float(1 / (variance + Double(p.epsilon)).squareRoot())
            math.normalize(row, out, n, Float(mean), inv, g, b)
        }
    }
}
