import Glibc

/// Per-channel affine transform along one axis: the inference form of BatchNormalization,
/// and of the Rescaling / Normalization preprocessing layers.
final class AxisAffineLayer: UnaryLayer {
    let name: String
    let className: String
    let axis: Int      // as configured (may be negative)
    let scale: [Float] // length 1 (broadcast) or the axis size
    let shift: [Float]

    init(name: String, className: String, axis: Int, scale: [Float], shift: [Float]) {
        self.name = name
        self.className = className
        self.axis = axis
        self.scale = scale
        self.shift = shift
    }

    func outputShape(_ input: Shape) throws -> Shape {
        let a = try normalizeAxis(axis, rank: input.count)
        guard a > 0 || input.count == 1 else { throw DLError.shape("cannot normalise over the batch axis") }
        guard scale.count == 1 || dimsAgree(input[a], scale.count) else {
            throw DLError.shape("axis \(axis) of input \(input.described) has \(input[a]) entries, the weights have \(scale.count)")
        }
        return input
    }

    func forward(_ x: Tensor) throws -> Tensor {
        var y = x
        axisAffine(&y, axis: try normalizeAxis(axis, rank: x.rank), scale: scale, shift: shift)
        return y
    }

    /// Keras stores `axis` as an int or (tf_keras, once built) a one-element list.
    static func singleAxis(_ c: LayerConfig, default d: Int) throws -> Int {
        guard let v = c["axis"] else { return d }
        if let i = v.int { return i }
        if let a = v.array, a.count == 1, let i = a[0].int { return i }
        throw c.unsupported("axis", v)
    }

    static func makeBatchNorm(_ c: LayerConfig, _ w: StoredWeights) throws -> Layer {
        let axis = try singleAxis(c, default: -1)
        let center = try c.bool("center", default: true), scaled = try c.bool("scale", default: true)
        let eps = try c.float("epsilon", default: 1e-3)
        if try c.bool("renorm", default: false) { throw c.unsupported("renorm", .bool(true)) }
        var names: [String] = []
        if scaled { names.append("gamma") }
        if center { names.append("beta") }
        names += ["moving_mean", "moving_variance"]
        let t = try w.take(names, for: c)
        let n = t.last!.count
        for (i, v) in t.enumerated() { try requireShape(v, [n], names[i], c) }
        let gamma = scaled ? t[0].data : [Float](repeating: 1, count: n)
        let beta = center ? t[scaled ? 1 : 0].data : [Float](repeating: 0, count: n)
        let mean = t[names.count - 2].data, variance = t[names.count - 1].data
        var scale = [Float](repeating: 0, count: n), shift = [Float](repeating: 0, count: n)
        for i in 0..<n {
            scale[i] = gamma[i] / (variance[i] + eps).squareRoot()
            shift[i] = beta[i] - mean[i] * scale[i]
        }
        return AxisAffineLayer(name: c.name, className: c.className, axis: axis, scale: scale, shift: shift)
    }
}

/// LayerNormalization: per-sample normalisation over `axes`, then gamma/beta over those axes.
final class LayerNormalization: UnaryLayer {
    let name: String
    let className = "LayerNormalization"
    let axes: [Int]  // as configured (may be negative)
    let epsilon: Float
    let gamma: [Float]?
    let beta: [Float]?

    init(name: String, axes: [Int], epsilon: Float, gamma: [Float]?, beta: [Float]?) {
        self.name = name
        self.axes = axes
        self.epsilon = epsilon
        self.gamma = gamma
        self.beta = beta
    }

    static func make(_ c: LayerConfig, _ w: StoredWeights) throws -> Layer {
        let axes = try c.intList("axis") ?? [-1]
        guard !axes.isEmpty else { throw c.error("empty axis list") }
        if try c.bool("rms_scaling", default: false) { throw c.unsupported("rms_scaling", .bool(true)) }
        let center = try c.bool("center", default: true), scaled = try c.bool("scale", default: true)
        var names: [String] = []
        if scaled { names.append("gamma") }
        if center { names.append("beta") }
        let t = try w.take(names, for: c)
        if t.count == 2, t[0].count != t[1].count { throw DLError.weights("\(c.context): gamma and beta sizes differ") }
        return LayerNormalization(name: c.name, axes: axes, epsilon: try c.float("epsilon", default: 1e-3),
                                  gamma: scaled ? t[0].data : nil, beta: center ? t[scaled ? 1 : 0].data : nil)
    }

    private func normalized(rank: Int) throws -> [Int] {
        let a = try Set(axes.map { try normalizeAxis($0, rank: rank) }).sorted()
        guard !a.contains(0) else { throw DLError.shape("cannot normalise over the batch axis") }
        return a
    }

    func outputShape(_ input: Shape) throws -> Shape {
        let a = try normalized(rank: input.count)
        let n = a.map { input[$0] }
        if n.allSatisfy({ $0 >= 0 }), let g = gamma ?? beta, g.count != n.elementCount {
            throw DLError.shape("normalised axes of \(input.described) hold \(n.elementCount) values, the weights \(g.count)")
        }
        return input
    }

    func forward(_ x: Tensor) throws -> Tensor {
        let a = try normalized(rank: x.rank)
        // Move the normalised axes last (they usually are), normalise rows, move them back.
        let rest = (0..<x.rank).filter { !a.contains($0) }
        let perm = rest + a
        let identity = perm == Array(0..<x.rank)
        var y = identity ? x : transpose(x, perm: perm)
        let n = a.map { x.shape[$0] }.elementCount
        let rows = y.count / n
        y.data.withUnsafeMutableBufferPointer { p in
            for r in 0..<rows {
                let row = p.baseAddress! + r * n
                var mean: Double = 0
                for i in 0..<n { mean += Double(row[i]) }
                mean /= Double(n)
                var variance: Double = 0
                for i in 0..<n { let d = Double(row[i]) - mean; variance += d * d }
                variance /= Double(n)
                let inv = Float(1 / (variance + Double(epsilon)).squareRoot())
                let m = Float(mean)
                for i in 0..<n {
                    var v = (row[i] - m) * inv
                    if let gamma { v *= gamma[i] }
                    if let beta { v += beta[i] }
                    row[i] = v
                }
            }
        }
        if identity { return y }
        var inverse = [Int](repeating: 0, count: perm.count)
        for (i, p) in perm.enumerated() { inverse[p] = i }
        return transpose(y, perm: inverse)
    }
}
