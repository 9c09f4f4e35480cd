import Glibc

/// Elementwise activation / math function (may run in place).
final class UnaryOp: CompiledOp {
    let node: Node
    let activation: Activation
    let math: MathKernels?
    init(_ node: Node, _ a: Activation, _ table: KernelTable) { self.node = node; activation = a; math = table.vectorMath }
    var label: String { node.op.kindName }
    func plan(_ inputs: [Shape]) throws -> OpPlan { OpPlan(outputs: [inputs[0]]) }
    func run(_ s: Step) { applyActivation(activation, s.inputs[0].f32, s.outputs[0].f32, count: s.outputs[0].count, math: math) }
}

/// x * scale[c] + shift[c] along one axis (may run in place).
final class AffineOp: CompiledOp {
    let node: Node
    let axis: Int
    let scale: AlignedBuffer, shift: AlignedBuffer
    let constants: [[Int]]

    init(_ node: Node, _ p: AffineParams, _ g: IRGraph) throws {
        self.node = node
        axis = p.axis
        scale = try AlignedBuffer(g.constants[p.scale].data)
        shift = try AlignedBuffer(g.constants[p.shift].data)
        constants = g.constantShapes
    }

    var label: String { "affine" }
    func plan(_ inputs: [Shape]) throws -> OpPlan { OpPlan(outputs: try inferShapes(node.op, inputs, constants)) }

    func run(_ s: Step) {
        let x = s.inputs[0].f32, y = s.outputs[0].f32, shape = s.inputs[0].shape
        let a = axis < 0 ? axis + shape.count : axis
        let n = shape[a]
        var inner = 1, outer = 1
        for d in (a + 1)..<shape.count { inner *= shape[d] }
        for d in 0..<a { outer *= shape[d] }
        let sc = scale.pointer, sh = shift.pointer, perChannel = scale.count > 1
        if inner == 1 && perChannel {
            for o in 0..<outer {
                let xi = x + o * n, yi = y + o * n
                for c in 0..<n { yi[c] = xi[c] * sc[c] + sh[c] }
            }
            return
        }
        for o in 0..<outer {
            for c in 0..<n {
                let k = perChannel ? sc[c] : sc[0], b = perChannel ? sh[c] : sh[0]
                let base = (o * n + c) * inner
                for i in 0..<inner { y[base + i] = x[base + i] * k + b }
            }
        }
    }
}

protocol BinaryFunction {
    func callAsFunction(_ a: Float, _ b: Float) -> Float
}
struct AddFn: BinaryFunction { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a + b } }
struct SubFn: BinaryFunction { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a - b } }
struct MulFn: BinaryFunction { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a * b } }
struct DivFn: BinaryFunction { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a / b } }
struct PowFn: BinaryFunction { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { powf(a, b) } }
struct MaxFn: BinaryFunction { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a.isNaN || a > b ? a : b } }
struct MinFn: BinaryFunction { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a.isNaN || a < b ? a : b } }
struct PReLUFn: BinaryFunction { @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a < 0 ? a * b : a } }
struct AddScaledFn: BinaryFunction {
    let k: Float
    @inline(__always) func callAsFunction(_ a: Float, _ b: Float) -> Float { a + b * k }
}

/// Two-input elementwise op with numpy broadcasting (may run in place over its first input).
final class BinaryOp: CompiledOp {
    let node: Node
    let kind: BinaryKind
    init(_ node: Node, _ k: BinaryKind) { self.node = node; kind = k }
    var label: String { node.op.kindName }
    func plan(_ inputs: [Shape]) throws -> OpPlan { OpPlan(outputs: try inferShapes(node.op, inputs, [])) }

    func run(_ s: Step) {
        switch kind {
        case .add: apply(AddFn(), s)
        case .subtract: apply(SubFn(), s)
        case .multiply: apply(MulFn(), s)
        case .divide: apply(DivFn(), s)
        case .power: apply(PowFn(), s)
        case .maximum: apply(MaxFn(), s)
        case .minimum: apply(MinFn(), s)
        case .prelu: apply(PReLUFn(), s)
        case .addScaled(let k): apply(AddScaledFn(k: k), s)
        }
    }

    @inline(__always)
    private func apply<F: BinaryFunction>(_ f: F, _ s: Step) {
        let a = s.inputs[0], b = s.inputs[1], y = s.outputs[0]
        let pa = a.f32, pb = b.f32, out = y.f32, n = y.count
        if a.count == n && b.count == n {
            for i in 0..<n { out[i] = f(pa[i], pb[i]) }
        } else if b.count == 1 && a.count == n {
            let v = pb[0]
            for i in 0..<n { out[i] = f(pa[i], v) }
        } else if a.count == 1 && b.count == n {
            let v = pa[0]
            for i in 0..<n { out[i] = f(v, pb[i]) }
        } else {
            let r = y.shape.count
            withUnsafeTemporaryAllocation(of: Int.self, capacity: 2 * r) { buf in
                let sa = UnsafeMutableBufferPointer(rebasing: buf[0..<r]), sb = UnsafeMutableBufferPointer(rebasing: buf[r..<(2 * r)])
                broadcastStrides(a.shape, into: sa)
                broadcastStrides(b.shape, into: sb)
                let inner = y.shape[r - 1], ia = sa[r - 1], ib = sb[r - 1]
                y.shape.withUnsafeBufferPointer { shape in
                    forEachRow(shape: shape, strides: UnsafeBufferPointer(sa), strides2: UnsafeBufferPointer(sb)) { row, oa, ob in
                        let o = out + row * inner, xa = pa + oa, xb = pb + ob
                        for j in 0..<inner { o[j] = f(xa[j * ia], xb[j * ib]) }
                    }
                }
            }
        }
    }
}

/// int32 -> float32 (a plain copy when the input is already float, as in an inlined sub-model).
final class CastOp: CompiledOp {
    let node: Node
    let fromInt: Bool
    init(_ node: Node, fromInt: Bool) { self.node = node; self.fromInt = fromInt }
    var label: String { "cast_f32" }
    func plan(_ inputs: [Shape]) throws -> OpPlan { OpPlan(outputs: [inputs[0]]) }
    func run(_ s: Step) {
        let n = s.outputs[0].count
        if fromInt {
            let src = s.inputs[0].i32, dst = s.outputs[0].f32
            for i in 0..<n { dst[i] = Float(src[i]) }
        } else {
            s.outputs[0].f32.update(from: s.inputs[0].f32, count: n)
        }
    }
}
