/// BatchNormalization (inference form: one per-channel affine op) and LayerNormalization.
enum NormalizationLayers {
    /// Keras stores `axis` as an int or (tf_keras, once built) a one-element list.
    static func singleAxis(_ c: LayerConfig, default d: Int) throws -> Int {
        guard let v = c["axis"] else { return d }
        if let i = v.int { return i }
        if let a = v.array, a.count == 1, let i = a[0].int { return i }
        throw c.unsupported("axis", v)
    }

    static func batchNorm(_ c: LayerConfig, _ w: StoredWeights, _ g: inout IRGraph) throws -> LayerEmitter {
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
        return .op(c, .affine(AffineParams(axis: axis, scale: g.addConstant(ConstTensor(shape: [n], data: scale)),
                                           shift: g.addConstant(ConstTensor(shape: [n], data: shift)))))
    }

    static func layerNorm(_ c: LayerConfig, _ w: StoredWeights, _ g: inout IRGraph) throws -> LayerEmitter {
        let axes = try c.intList("axis") ?? [-1]
        guard !axes.isEmpty else { throw c.error("empty axis list") }
        if try c.bool("rms_scaling", default: false) { throw c.unsupported("rms_scaling", .bool(true)) }
        let center = try c.bool("center", default: true), scaled = try c.bool("scale", default: true)
        var names: [String] = []
        if scaled { names.append("gamma") }
        if center { names.append("beta") }
        let t = try w.take(names, for: c)
        if t.count == 2, t[0].count != t[1].count { throw DLError.weights("\(c.context): gamma and beta sizes differ") }
        let p = LayerNormParams(axes: axes, epsilon: try c.float("epsilon", default: 1e-3),
                                gamma: scaled ? g.addConstant(t[0]) : nil, beta: center ? g.addConstant(t[scaled ? 1 : 0]) : nil)
        return .op(c, .layerNorm(p))
    }
}
