import Glibc

/// Scalar definitions of the elementwise functions. Loops are generic over these types so
/// each function gets its own specialised (and, where the math allows, vectorised) loop with
/// the `switch` on the activation kind outside it.
protocol ScalarFunction {
    func callAsFunction(_ x: Float) -> Float
}

/// Something to do once the concrete function type is known.
protocol ActivationVisitor {
    func visit<F: ScalarFunction>(_ f: F)
}

@inline(__always) private func unit(_ x: Float) -> Float { x < 0 ? 0 : (x > 1 ? 1 : x) }
@inline(__always) private func sigmoidf(_ x: Float) -> Float { 1 / (1 + expf(-x)) }
@inline(__always) private func softplusf(_ x: Float) -> Float { x > 0 ? x + log1pf(expf(-x)) : log1pf(expf(x)) }

struct IdentityFn: ScalarFunction { @inline(__always) func callAsFunction(_ x: Float) -> Float { x } }
struct ReLUFn: ScalarFunction { @inline(__always) func callAsFunction(_ x: Float) -> Float { x < 0 ? 0 : x } }
struct ClampFn: ScalarFunction {
    let lo: Float, hi: Float
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x < lo ? lo : (x > hi ? hi : x) }
}
struct SigmoidFn: ScalarFunction { @inline(__always) func callAsFunction(_ x: Float) -> Float { sigmoidf(x) } }
struct TanhFn: ScalarFunction { @inline(__always) func callAsFunction(_ x: Float) -> Float { tanhf(x) } }
struct ELUFn: ScalarFunction {
    let alpha: Float, scale: Float
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x > 0 ? scale * x : scale * alpha * expm1f(x) }
}
struct SoftplusFn: ScalarFunction { @inline(__always) func callAsFunction(_ x: Float) -> Float { softplusf(x) } }
struct SoftsignFn: ScalarFunction { @inline(__always) func callAsFunction(_ x: Float) -> Float { x / (1 + Swift.abs(x)) } }
struct SwishFn: ScalarFunction { @inline(__always) func callAsFunction(_ x: Float) -> Float { x * sigmoidf(x) } }
struct GeluFn: ScalarFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { 0.5 * x * (1 + erff(x * 0.7071067811865476)) }
}
struct GeluTanhFn: ScalarFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { 0.5 * x * (1 + tanhf(0.7978845608028654 * (x + 0.044715 * x * x * x))) }
}
struct ExpFn: ScalarFunction { @inline(__always) func callAsFunction(_ x: Float) -> Float { expf(x) } }
struct ErfFn: ScalarFunction { @inline(__always) func callAsFunction(_ x: Float) -> Float { erff(x) } }
struct LeakyFn: ScalarFunction {
    let slope: Float
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x < 0 ? slope * x : x }
}
struct MishFn: ScalarFunction { @inline(__always) func callAsFunction(_ x: Float) -> Float { x * tanhf(softplusf(x)) } }
struct HardSigmoidFn: ScalarFunction {
    let slope: Float
    @inline(__always) func callAsFunction(_ x: Float) -> Float { unit(slope * x + 0.5) }
}
struct HardSwishFn: ScalarFunction { @inline(__always) func callAsFunction(_ x: Float) -> Float { x * unit(x / 6 + 0.5) } }
struct ReLUGeneralFn: ScalarFunction {
    let maxValue: Float, hasMax: Bool, slope: Float, threshold: Float
    @inline(__always) func callAsFunction(_ x: Float) -> Float {
        if hasMax && x >= maxValue { return maxValue }
        if x >= threshold { return x }
        // A zero slope gives 0 even for -inf (as Keras does), not 0 * -inf = NaN.
        return x.isNaN ? x : (slope == 0 ? 0 : slope * (x - threshold))
    }
}
struct CELUFn: ScalarFunction {
    let alpha: Float
    @inline(__always) func callAsFunction(_ x: Float) -> Float { (x < 0 ? 0 : x) + alpha * expm1f(Swift.min(x, 0) / alpha) }
}
struct HardShrinkFn: ScalarFunction {
    let t: Float
    @inline(__always) func callAsFunction(_ x: Float) -> Float { Swift.abs(x) > t ? x : (x.isNaN ? x : 0) }
}
struct SoftShrinkFn: ScalarFunction {
    let t: Float
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x > t ? x - t : (x < -t ? x + t : (x.isNaN ? x : 0)) }
}
struct LogSigmoidFn: ScalarFunction { @inline(__always) func callAsFunction(_ x: Float) -> Float { -softplusf(-x) } }
struct SparsePlusFn: ScalarFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x <= -1 ? 0 : (x >= 1 ? x : (x + 1) * (x + 1) / 4) }
}
struct SparseSigmoidFn: ScalarFunction {
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x <= -1 ? 0 : (x >= 1 ? 1 : 0.5 * (x + 1)) }
}
struct SquareplusFn: ScalarFunction {
    let b: Float
    @inline(__always) func callAsFunction(_ x: Float) -> Float { (x + (x * x + b).squareRoot()) / 2 }
}
struct TanhShrinkFn: ScalarFunction { @inline(__always) func callAsFunction(_ x: Float) -> Float { x - tanhf(x) } }
struct NegativeFn: ScalarFunction { @inline(__always) func callAsFunction(_ x: Float) -> Float { -x } }
struct AbsFn: ScalarFunction { @inline(__always) func callAsFunction(_ x: Float) -> Float { Swift.abs(x) } }
struct SqrtFn: ScalarFunction { @inline(__always) func callAsFunction(_ x: Float) -> Float { x.squareRoot() } }
struct SquareFn: ScalarFunction { @inline(__always) func callAsFunction(_ x: Float) -> Float { x * x } }
struct LogFn: ScalarFunction { @inline(__always) func callAsFunction(_ x: Float) -> Float { logf(x) } }
struct ReciprocalFn: ScalarFunction { @inline(__always) func callAsFunction(_ x: Float) -> Float { 1 / x } }
struct ScaleShiftFn: ScalarFunction {
    let scale: Float, shift: Float
    @inline(__always) func callAsFunction(_ x: Float) -> Float { x * scale + shift }
}

/// Calls `v.visit` with the scalar function of `a`.
@inline(__always)
func dispatch<V: ActivationVisitor>(_ a: Activation, _ v: V) {
    switch a {
    case .linear: v.visit(IdentityFn())
    case .relu: v.visit(ReLUFn())
    case .relu6: v.visit(ClampFn(lo: 0, hi: 6))
    case .hardTanh: v.visit(ClampFn(lo: -1, hi: 1))
    case .sigmoid: v.visit(SigmoidFn())
    case .tanh: v.visit(TanhFn())
    case .elu(let alpha): v.visit(ELUFn(alpha: alpha, scale: 1))
    case .selu: v.visit(ELUFn(alpha: 1.6732632423543772848170429916717, scale: 1.0507009873554804934193349852946))
    case .softplus: v.visit(SoftplusFn())
    case .softsign: v.visit(SoftsignFn())
    case .swish: v.visit(SwishFn())
    case .gelu(let approximate): if approximate { v.visit(GeluTanhFn()) } else { v.visit(GeluFn()) }
    case .exponential: v.visit(ExpFn())
    case .leakyRelu(let s): v.visit(LeakyFn(slope: s))
    case .mish: v.visit(MishFn())
    case .hardSigmoidKeras2: v.visit(HardSigmoidFn(slope: 0.2))
    case .hardSigmoidKeras3: v.visit(HardSigmoidFn(slope: 1.0 / 6))
    case .hardSwish: v.visit(HardSwishFn())
    case .reluGeneral(let m, let s, let t):
        if s == 0 && t == 0, let m, m > 0 { v.visit(ClampFn(lo: 0, hi: m)) }
        else if s == 0 && t == 0 && m == nil { v.visit(ReLUFn()) }
        else { v.visit(ReLUGeneralFn(maxValue: m ?? 0, hasMax: m != nil, slope: s, threshold: t)) }
    case .celu(let a): v.visit(CELUFn(alpha: a))
    case .hardShrink(let t): v.visit(HardShrinkFn(t: t))
    case .softShrink(let t): v.visit(SoftShrinkFn(t: t))
    case .logSigmoid: v.visit(LogSigmoidFn())
    case .sparsePlus: v.visit(SparsePlusFn())
    case .sparseSigmoid: v.visit(SparseSigmoidFn())
    case .squareplus(let b): v.visit(SquareplusFn(b: b))
    case .tanhShrink: v.visit(TanhShrinkFn())
    case .negative: v.visit(NegativeFn())
    case .abs: v.visit(AbsFn())
    case .sqrt: v.visit(SqrtFn())
    case .square: v.visit(SquareFn())
    case .log: v.visit(LogFn())
    case .reciprocal: v.visit(ReciprocalFn())
    case .scaleShift(let s, let b): v.visit(ScaleShiftFn(scale: s, shift: b))
    }
}

/// dst[i] = f(src[i]); src and dst may be the same buffer.
struct MapLoop: ActivationVisitor {
    let src: UnsafePointer<Float>, dst: UnsafeMutablePointer<Float>, count: Int
    @inline(__always) func visit<F: ScalarFunction>(_ f: F) {
        for i in 0..<count { dst[i] = f(src[i]) }
    }
}

/// dst = a(src). Sigmoid, tanh, swish, gelu and exponential go to the vector kernels of `math`
/// (the op's tier's `vectorMath`; nil, as at the scalar tier, keeps the loops above).
func applyActivation(_ a: Activation, _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, count: Int,
                     math: MathKernels?) {
    if a == .linear {
        if UnsafePointer(dst) != src { dst.update(from: src, count: count) }
        return
    }
    if let kernel = math?.kernel(for: a) { return kernel(src, dst, count) }
    dispatch(a, MapLoop(src: src, dst: dst, count: count))
}

// The scalar tier's MathKernels entries for the elementwise functions: the loops above over
// glibc's expf, tanhf and erff, the reference the vector kernels are tested against.
func scalarExp(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ count: Int) { MapLoop(src: src, dst: dst, count: count).visit(ExpFn()) }
func scalarSigmoid(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ count: Int) { MapLoop(src: src, dst: dst, count: count).visit(SigmoidFn()) }
func scalarTanh(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ count: Int) { MapLoop(src: src, dst: dst, count: count).visit(TanhFn()) }
func scalarErf(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ count: Int) { MapLoop(src: src, dst: dst, count: count).visit(ErfFn()) }
func scalarSwish(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ count: Int) { MapLoop(src: src, dst: dst, count: count).visit(SwishFn()) }
func scalarGelu(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ count: Int) { MapLoop(src: src, dst: dst, count: count).visit(GeluFn()) }
func scalarGeluTanh(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ count: Int) { MapLoop(src: src, dst: dst, count: count).visit(GeluTanhFn()) }
