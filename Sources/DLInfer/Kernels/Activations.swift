import Glibc

/// Elementwise and axis-wise activation functions, with the semantics of the Keras generation
/// that wrote the model (see `KerasSemantics`).
enum ActivationFunction: Equatable {
    case linear, relu, relu6, sigmoid, tanh, elu(alpha: Float), selu, softplus, softsign
    case swish, gelu(approximate: Bool), exponential, leakyRelu(slope: Float), mish
    case hardSigmoidKeras2, hardSigmoidKeras3, hardSwish
    case softmax(axis: Int), logSoftmax(axis: Int)
    // Keras 3 additions.
    case celu(alpha: Float), hardShrink(threshold: Float), softShrink(threshold: Float), hardTanh
    case logSigmoid, sparsePlus, sparseSigmoid, squareplus(b: Float), tanhShrink
    case glu(axis: Int), sparsemax(axis: Int)
    /// Keras' ReLU layer: threshold, negative slope below it, optional cap.
    case reluGeneral(maxValue: Float?, negativeSlope: Float, threshold: Float)

    func apply(_ t: inout Tensor) throws {
        switch self {
        case .softmax(let axis): try softmaxAlong(&t, axis: axis, log: false)
        case .logSoftmax(let axis): try softmaxAlong(&t, axis: axis, log: true)
        case .glu(let axis): t = try gatedLinearUnit(t, axis: axis)
        case .sparsemax(let axis): try sparsemaxAlong(&t, axis: axis)
        default:
            let f = elementwise()
            t.data.withUnsafeMutableBufferPointer { p in
                for i in p.indices { p[i] = f(p[i]) }
            }
        }
    }

    private func elementwise() -> (Float) -> Float {
        switch self {
        case .linear: return { $0 }
        case .relu: return { $0 < 0 ? 0 : $0 }
        case .relu6: return { $0 < 0 ? 0 : ($0 > 6 ? 6 : $0) }
        case .sigmoid: return sigmoidf
        case .tanh: return { tanhf($0) }
        case .elu(let a): return { $0 > 0 ? $0 : a * expm1f($0) }
        case .selu:
            let alpha: Float = 1.6732632423543772848170429916717
            let scale: Float = 1.0507009873554804934193349852946
            return { $0 > 0 ? scale * $0 : scale * alpha * expm1f($0) }
        case .softplus: return softplusf
        case .softsign: return { $0 / (1 + abs($0)) }
        case .swish: return { $0 * sigmoidf($0) }
        case .gelu(let approximate):
            if approximate {
                let c: Float = 0.7978845608028654
                return { 0.5 * $0 * (1 + tanhf(c * ($0 + 0.044715 * $0 * $0 * $0))) }
            }
            return { 0.5 * $0 * (1 + erff($0 * 0.7071067811865476)) }
        case .exponential: return { expf($0) }
        case .leakyRelu(let s): return { $0 < 0 ? s * $0 : $0 }
        case .mish: return { $0 * tanhf(softplusf($0)) }
        case .hardSigmoidKeras2: return { clamp(0.2 * $0 + 0.5) }
        case .hardSigmoidKeras3: return { clamp($0 / 6 + 0.5) }
        case .hardSwish: return { $0 * clamp($0 / 6 + 0.5) }
        case .reluGeneral(let maxValue, let slope, let threshold):
            return { x in
                if let m = maxValue, x >= m { return m }
                if x >= threshold { return x }
                // A zero slope gives 0 even for -inf (as Keras does), not 0 * -inf = NaN.
                return x.isNaN ? x : (slope == 0 ? 0 : slope * (x - threshold))
            }
        case .celu(let a): return { ($0 < 0 ? 0 : $0) + a * expm1f(Swift.min($0, 0) / a) }
        case .hardShrink(let t): return { abs($0) > t ? $0 : ($0.isNaN ? $0 : 0) }
        case .softShrink(let t): return { $0 > t ? $0 - t : ($0 < -t ? $0 + t : ($0.isNaN ? $0 : 0)) }
        case .hardTanh: return { $0 < -1 ? -1 : ($0 > 1 ? 1 : $0) }
        case .logSigmoid: return { -softplusf(-$0) }
        case .sparsePlus: return { $0 <= -1 ? 0 : ($0 >= 1 ? $0 : ($0 + 1) * ($0 + 1) / 4) }
        case .sparseSigmoid: return { $0 <= -1 ? 0 : ($0 >= 1 ? 1 : 0.5 * ($0 + 1)) }
        case .squareplus(let b): return { ($0 + ($0 * $0 + b).squareRoot()) / 2 }
        case .tanhShrink: return { $0 - tanhf($0) }
        case .softmax, .logSoftmax, .glu, .sparsemax: return { $0 }
        }
    }
}

@inline(__always) private func clamp(_ x: Float) -> Float { x < 0 ? 0 : (x > 1 ? 1 : x) }
@inline(__always) private func sigmoidf(_ x: Float) -> Float { 1 / (1 + expf(-x)) }
@inline(__always) private func softplusf(_ x: Float) -> Float {
    x > 0 ? x + log1pf(expf(-x)) : log1pf(expf(x))
}

/// Numerically stable (log-)softmax along one axis.
func softmaxAlong(_ t: inout Tensor, axis: Int, log: Bool) throws {
    let a = try normalizeAxis(axis, rank: t.rank)
    let n = t.shape[a]
    let inner = t.shape[(a + 1)...].reduce(1, *)
    let outer = t.shape[..<a].reduce(1, *)
    guard n > 0 else { return }
    t.data.withUnsafeMutableBufferPointer { p in
        for o in 0..<outer {
            for i in 0..<inner {
                let base = o * n * inner + i
                var m = -Float.infinity
                for k in 0..<n { m = Swift.max(m, p[base + k * inner]) }
                var sum: Float = 0
                for k in 0..<n { sum += expf(p[base + k * inner] - m) }
                if log {
                    let ls = logf(sum)
                    for k in 0..<n { p[base + k * inner] = p[base + k * inner] - m - ls }
                } else {
                    for k in 0..<n { p[base + k * inner] = expf(p[base + k * inner] - m) / sum }
                }
            }
        }
    }
}

/// GLU: splits `axis` in halves a, b and returns a * sigmoid(b).
func gatedLinearUnit(_ t: Tensor, axis: Int) throws -> Tensor {
    let a = try normalizeAxis(axis, rank: t.rank)
    let n = t.shape[a]
    guard n % 2 == 0 else { throw DLError.shape("glu needs an even size on axis \(axis), got \(n)") }
    let inner = t.shape[(a + 1)...].reduce(1, *), outer = t.shape[..<a].reduce(1, *)
    var shape = t.shape
    shape[a] = n / 2
    var y = Tensor(zeros: shape)
    let half = n / 2 * inner
    for o in 0..<outer {
        for i in 0..<half {
            let x = t.data[o * n * inner + i], g = t.data[o * n * inner + half + i]
            y.data[o * half + i] = x * sigmoidf(g)
        }
    }
    return y
}

/// Sparsemax as Keras computes it on every backend: support_j = z_(j) - (cumsum_j - 1) / j > 0
/// over the descending sort, tau = (sum of cumsum over the support - 1) / |support|.
func sparsemaxAlong(_ t: inout Tensor, axis: Int) throws {
    let a = try normalizeAxis(axis, rank: t.rank)
    let n = t.shape[a]
    let inner = t.shape[(a + 1)...].reduce(1, *), outer = t.shape[..<a].reduce(1, *)
    var z = [Float](repeating: 0, count: n)
    for o in 0..<outer {
        for i in 0..<inner {
            let base = o * n * inner + i
            for k in 0..<n { z[k] = t.data[base + k * inner] }
            let sorted = z.sorted(by: >)
            var cumulative: Float = 0, support: Float = 0, supportSum: Float = 0
            for (k, v) in sorted.enumerated() {
                cumulative += v
                if v - (cumulative - 1) / Float(k + 1) > 0 { support += 1; supportSum += cumulative }
            }
            let tau = (supportSum - 1) / support
            for k in 0..<n { t.data[base + k * inner] = Swift.max(z[k] - tau, 0) }
        }
    }
}
