/// Rescaling and Normalization preprocessing layers, both per-channel affine maps at inference.
extension AxisAffineLayer {
    static func makeRescaling(_ c: LayerConfig, _ w: StoredWeights) throws -> Layer {
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
        return AxisAffineLayer(name: c.name, className: c.className, axis: -1, scale: scale, shift: offset)
    }

    /// Normalization: (x - mean) / max(sqrt(variance), 1e-7), or its inverse with invert=True.
    static func makeNormalization(_ c: LayerConfig, _ w: StoredWeights) throws -> Layer {
        let axis = try singleAxis(c, default: -1)
        var mean: [Float], variance: [Float]
        func list(_ v: JSON) throws -> [Float] {
            if let n = v.number { return [Float(n)] }
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
        return AxisAffineLayer(name: c.name, className: c.className, axis: axis, scale: scale, shift: shift)
    }
}
