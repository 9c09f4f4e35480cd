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
