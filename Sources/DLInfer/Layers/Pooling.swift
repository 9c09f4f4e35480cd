/// Max/AveragePooling1D/2D (TensorFlow padding semantics) and the global poolings.
final class Pooling: UnaryLayer {
    let name: String
    let className: String
    let kind: PoolKind
    let rank: Int
    let pool: (Int, Int)
    let strides: (Int, Int)
    let padding: Padding

    init(name: String, className: String, kind: PoolKind, rank: Int, pool: (Int, Int), strides: (Int, Int), padding: Padding) {
        self.name = name
        self.className = className
        self.kind = kind
        self.rank = rank
        self.pool = pool
        self.strides = strides
        self.padding = padding
    }

    static func make(_ kind: PoolKind, rank: Int) -> (LayerConfig, StoredWeights) throws -> Layer {
        return { c, w in
            _ = try w.take([], for: c)
            try c.requireChannelsLast()
            let p = try c.ints("pool_size", count: rank, default: 2)
            let s = c["strides"] == nil ? p : try c.ints("strides", count: rank)
            guard (p + s).allSatisfy({ $0 >= 1 }) else { throw c.error("pool_size and strides must be >= 1") }
            return Pooling(name: c.name, className: c.className, kind: kind, rank: rank,
                           pool: rank == 1 ? (1, p[0]) : (p[0], p[1]), strides: rank == 1 ? (1, s[0]) : (s[0], s[1]),
                           padding: try c.padding())
        }
    }

    private func geometry(h: Int, w: Int) -> (AxisGeometry, AxisGeometry) {
        (AxisGeometry.make(input: h, kernel: pool.0, stride: strides.0, dilation: 1, padding: rank == 1 ? .valid : padding),
         AxisGeometry.make(input: w, kernel: pool.1, stride: strides.1, dilation: 1, padding: padding))
    }

    private func view(_ s: Shape) throws -> (Int, Int, Int, Int) {
        try requireRank(s, rank + 2)
        return rank == 1 ? (s[0], 1, s[1], s[2]) : (s[0], s[1], s[2], s[3])
    }

    private func shape(_ n: Int, _ h: Int, _ w: Int, _ c: Int) -> Shape { rank == 1 ? [n, w, c] : [n, h, w, c] }

    func outputShape(_ input: Shape) throws -> Shape {
        let (n, h, w, c) = try view(input)
        let (gh, gw) = geometry(h: h, w: w)
        return shape(n, gh.output, gw.output, c)
    }

    func forward(_ x: Tensor) throws -> Tensor {
        let (n, h, w, c) = try view(x.shape)
        let (gh, gw) = geometry(h: h, w: w)
        var y = Tensor(zeros: shape(n, gh.output, gw.output, c))
        if y.count == 0 { return y }
        x.data.withUnsafeBufferPointer { xp in
            y.data.withUnsafeMutableBufferPointer { yp in
                for img in 0..<n {
                    pool2d(xp.baseAddress! + img * h * w * c, channels: c, h: gh, w: gw, kind: kind,
                           out: yp.baseAddress! + img * gh.output * gw.output * c)
                }
            }
        }
        return y
    }
}

/// GlobalAverage/GlobalMaxPooling1D/2D over the spatial axes, with keepdims.
final class GlobalPooling: UnaryLayer {
    let name: String
    let className: String
    let kind: PoolKind
    let rank: Int
    let keepDims: Bool

    init(name: String, className: String, kind: PoolKind, rank: Int, keepDims: Bool) {
        self.name = name
        self.className = className
        self.kind = kind
        self.rank = rank
        self.keepDims = keepDims
    }

    static func make(_ kind: PoolKind, rank: Int) -> (LayerConfig, StoredWeights) throws -> Layer {
        return { c, w in
            _ = try w.take([], for: c)
            try c.requireChannelsLast()
            return GlobalPooling(name: c.name, className: c.className, kind: kind, rank: rank, keepDims: try c.bool("keepdims", default: false))
        }
    }

    func outputShape(_ input: Shape) throws -> Shape {
        try requireRank(input, rank + 2)
        return keepDims ? [input[0]] + [Int](repeating: 1, count: rank) + [input.last!] : [input[0], input.last!]
    }

    func forward(_ x: Tensor) throws -> Tensor {
        let n = x.shape[0], c = x.shape.last!
        let pixels = x.count / max(n * c, 1)
        var y = Tensor(zeros: try outputShape(x.shape))
        for img in 0..<n {
            for ch in 0..<c {
                var acc: Float = kind == .max ? -.infinity : 0
                for p in 0..<pixels {
                    let v = x.data[(img * pixels + p) * c + ch]
                    if kind == .max { if v > acc || v.isNaN { acc = v } } else { acc += v }
                }
                y.data[img * c + ch] = kind == .max ? acc : acc / Float(pixels)
            }
        }
        return y
    }
}
