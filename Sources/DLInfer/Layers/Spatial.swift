/// ZeroPadding1D/2D, Cropping1D/2D and UpSampling1D/2D over NHWC (or NWC) tensors.
enum SpatialLayers {
    /// Keras accepts n, (a, b) or ((top, bottom), (left, right)).
    private static func pairs(_ c: LayerConfig, _ key: String, rank: Int, default d: Int) throws -> [(Int, Int)] {
        guard let v = c[key] else { return [(Int, Int)](repeating: (d, d), count: rank) }
        if let i = v.int { return [(Int, Int)](repeating: (i, i), count: rank) }
        guard let a = v.array else { throw c.unsupported(key, v) }
        if rank == 1, a.count == 2, let x = a[0].int, let y = a[1].int { return [(x, y)] }
        guard a.count == rank else { throw c.unsupported(key, v) }
        return try a.map { e in
            if let i = e.int { return (i, i) }
            if let p = e.array, p.count == 2, let x = p[0].int, let y = p[1].int { return (x, y) }
            throw c.unsupported(key, v)
        }
    }

    static func make(_ kind: String, rank: Int) -> LayerFactory {
        return { c, w, _ in
            _ = try w.take([], for: c)
            try c.requireChannelsLast()
            let op: SpatialParams.Kind
            switch kind {
            case "pad", "crop":
                let p = try pairs(c, kind == "pad" ? "padding" : "cropping", rank: rank, default: kind == "pad" ? 1 : 0)
                guard p.allSatisfy({ $0.0 >= 0 && $0.1 >= 0 && $0.0 <= maxElements && $0.1 <= maxElements }) else {
                    throw c.error("padding/cropping must be between 0 and \(maxElements)")
                }
                let (tb, lr) = rank == 1 ? ((0, 0), p[0]) : (p[0], p[1])
                op = kind == "pad" ? .pad(top: tb.0, bottom: tb.1, left: lr.0, right: lr.1)
                                   : .crop(top: tb.0, bottom: tb.1, left: lr.0, right: lr.1)
            default:
                let s = rank == 1 ? [1, try c.int("size", default: 2)] : try c.ints("size", count: 2, default: 2)
                guard s.allSatisfy({ $0 >= 1 && $0 <= maxElements }) else { throw c.error("size must be between 1 and \(maxElements)") }
                let interpolation = try c.string("interpolation", default: "nearest")
                switch interpolation {
                case "nearest": op = .upsampleNearest(s[0], s[1])
                case "bilinear": op = .upsampleBilinear(s[0], s[1])
                default: throw c.unsupported("interpolation", .string(interpolation))
                }
            }
            return .op(c, .spatial(SpatialParams(rank: rank, kind: op)))
        }
    }
}
