/// ZeroPadding1D/2D, Cropping1D/2D and UpSampling1D/2D over NHWC (or NWC) tensors.
final class SpatialResize: UnaryLayer {
    enum Op {
        case pad(top: Int, bottom: Int, left: Int, right: Int)
        case crop(top: Int, bottom: Int, left: Int, right: Int)
        case upsampleNearest(Int, Int)
        case upsampleBilinear(Int, Int)
    }

    let name: String
    let className: String
    let rank: Int
    let op: Op

    init(name: String, className: String, rank: Int, op: Op) {
        self.name = name
        self.className = className
        self.rank = rank
        self.op = op
    }

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

    static func make(_ kind: String, rank: Int) -> (LayerConfig, StoredWeights) throws -> Layer {
        return { c, w in
            _ = try w.take([], for: c)
            try c.requireChannelsLast()
            let op: Op
            switch kind {
            case "pad", "crop":
                let p = try pairs(c, kind == "pad" ? "padding" : "cropping", rank: rank, default: kind == "pad" ? 1 : 0)
                guard p.allSatisfy({ $0.0 >= 0 && $0.1 >= 0 }) else { throw c.error("negative padding/cropping") }
                let (tb, lr) = rank == 1 ? ((0, 0), p[0]) : (p[0], p[1])
                op = kind == "pad" ? .pad(top: tb.0, bottom: tb.1, left: lr.0, right: lr.1)
                                   : .crop(top: tb.0, bottom: tb.1, left: lr.0, right: lr.1)
            default:
                let s = rank == 1 ? [1, try c.int("size", default: 2)] : try c.ints("size", count: 2, default: 2)
                guard s.allSatisfy({ $0 >= 1 }) else { throw c.error("size must be >= 1") }
                let interpolation = try c.string("interpolation", default: "nearest")
                switch interpolation {
                case "nearest": op = .upsampleNearest(s[0], s[1])
                case "bilinear": op = .upsampleBilinear(s[0], s[1])
                default: throw c.unsupported("interpolation", .string(interpolation))
                }
            }
            return SpatialResize(name: c.name, className: c.className, rank: rank, op: op)
        }
    }

    private func view(_ s: Shape) throws -> (Int, Int, Int, Int) {
        try requireRank(s, rank + 2)
        return rank == 1 ? (s[0], 1, s[1], s[2]) : (s[0], s[1], s[2], s[3])
    }

    private func shape(_ n: Int, _ h: Int, _ w: Int, _ c: Int) -> Shape { rank == 1 ? [n, w, c] : [n, h, w, c] }

    private func outSize(_ h: Int, _ w: Int) throws -> (Int, Int) {
        func k(_ v: Int, _ f: (Int) -> Int) -> Int { v < 0 ? -1 : f(v) }
        switch op {
        case .pad(let t, let b, let l, let r): return (k(h) { $0 + t + b }, k(w) { $0 + l + r })
        case .crop(let t, let b, let l, let r):
            let oh = k(h) { $0 - t - b }, ow = k(w) { $0 - l - r }
            guard (h < 0 || oh > 0) && (w < 0 || ow > 0) else { throw DLError.shape("cropping removes the whole input") }
            return (oh, ow)
        case .upsampleNearest(let sh, let sw), .upsampleBilinear(let sh, let sw): return (k(h) { $0 * sh }, k(w) { $0 * sw })
        }
    }

    func outputShape(_ input: Shape) throws -> Shape {
        let (n, h, w, c) = try view(input)
        let (oh, ow) = try outSize(h, w)
        return shape(n, oh, ow, c)
    }

    func forward(_ x: Tensor) throws -> Tensor {
        let (n, h, w, c) = try view(x.shape)
        let (oh, ow) = try outSize(h, w)
        var y = Tensor(zeros: shape(n, oh, ow, c))
        x.data.withUnsafeBufferPointer { xp in
            y.data.withUnsafeMutableBufferPointer { yp in
                for img in 0..<n {
                    let src = xp.baseAddress! + img * h * w * c, dst = yp.baseAddress! + img * oh * ow * c
                    switch op {
                    case .pad(let t, _, let l, _):
                        for iy in 0..<h { (dst + ((iy + t) * ow + l) * c).update(from: src + iy * w * c, count: w * c) }
                    case .crop(let t, _, let l, _):
                        for oy in 0..<oh { (dst + oy * ow * c).update(from: src + ((oy + t) * w + l) * c, count: ow * c) }
                    case .upsampleNearest(let sh, let sw):
                        for oy in 0..<oh {
                            for ox in 0..<ow { (dst + (oy * ow + ox) * c).update(from: src + ((oy / sh) * w + ox / sw) * c, count: c) }
                        }
                    case .upsampleBilinear:
                        resizeBilinear(src, height: h, width: w, channels: c, outHeight: oh, outWidth: ow, out: dst)
                    }
                }
            }
        }
        return y
    }
}
