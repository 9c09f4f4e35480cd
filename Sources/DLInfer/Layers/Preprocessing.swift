/// Rescaling and Normalization preprocessing layers, both per-channel affine maps at inference.
enum PreprocessingLayers {
    static func rescaling(_ c: LayerConfig, _ w: StoredWeights, _ g: inout IRGraph) throws -> LayerEmitter {
        _ = try w.take([], for: c)
        func values(_ key: String, _ d: Float) throws -> [Float] {
            guard let v = c[key] else { return [d] }
            if let n = v.number { return [Float(n)] }
            if let a = v.array, !a.isEmpty, a.allSatisfy({ $0.number != nil }) { return a.map { Float($0.number!) } }
            throw c.unsupported(key, v)
        }
        var scale = try values("scale", 1), offset = try values("offset", 0)
        if scale.count != offset.count {
            if scale.count == 1 { scale = [Float](repeating: scale[0], count: offset.count) }
            else if offset.count == 1 { offset = [Float](repeating: offset[0], count: scale.count) }
            else { throw c.error("scale and offset lengths differ") }
        }
        return .op(c, .affine(AffineParams(axis: -1, scale: g.addConstant(ConstTensor(shape: [scale.count], data: scale)),
                                           shift: g.addConstant(ConstTensor(shape: [offset.count], data: offset)))))
    }

    /// Normalization: (x - mean) / max(sqrt(variance), 1e-7), or its inverse with invert=True.
    static func normalization(_ c: LayerConfig, _ w: StoredWeights, _ g: inout IRGraph) throws -> LayerEmitter {
        let axis = try NormalizationLayers.singleAxis(c, default: -1)
        var mean: [Float], variance: [Float]
        func list(_ v: JSON) throws -> [Float] {
            func flat(_ j: JSON) throws -> [Float] {
                if let n = j.number { return [Float(n)] }
                if let a = j.array { return try a.flatMap(flat) }
                throw c.unsupported("mean/variance", v)
            }
            return try flat(v)
        }
        switch w.labels.count {
        case 0:
            guard let m = c["mean"], let v = c["variance"] else { throw DLError.weights("\(c.context): no mean/variance in the file or the config") }
            mean = try list(m)
            variance = try list(v)
        case 2:
            let t = try w.take(["mean", "variance"], for: c)
            mean = t[0].data; variance = t[1].data
        default:
            let t = try w.take(["mean", "variance", "count"], for: c)
            mean = t[0].data; variance = t[1].data
        }
        guard mean.count == variance.count, !mean.isEmpty else { throw DLError.weights("\(c.context): mean and variance sizes differ") }
        let invert = try c.bool("invert", default: false)
        var scale = [Float](repeating: 0, count: mean.count), shift = scale
        for i in mean.indices {
            let sd = max(variance[i].squareRoot(), 1e-7)
            if invert {
                scale[i] = sd; shift[i] = mean[i]
            } else {
                scale[i] = 1 / sd; shift[i] = -mean[i] / sd
            }
        }
        return .op(c, .affine(AffineParams(axis: axis, scale: g.addConstant(ConstTensor(shape: [scale.count], data: scale)),
                                           shift: g.addConstant(ConstTensor(shape: [shift.count], data: shift)))))
    }
}
