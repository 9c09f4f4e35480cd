/// Max/AveragePooling1D/2D (TensorFlow padding semantics) and the global poolings.
enum PoolingLayers {
    static func pool(_ kind: PoolKind, rank: Int) -> LayerFactory {
        return { c, w, _ in
            _ = try w.take([], for: c)
            try c.requireChannelsLast()
            let p = try c.ints("pool_size", count: rank, default: 2)
            let s = c["strides"] == nil || c["strides"]!.isNull ? p : try c.ints("strides", count: rank)
            guard (p + s).allSatisfy({ $0 >= 1 }) else { throw c.error("pool_size and strides must be >= 1") }
            let padding = try c.padding().spec
            let win = rank == 1 ? Window(rank: 1, kh: 1, kw: p[0], sh: 1, sw: s[0], padding: padding)
                                : Window(rank: 2, kh: p[0], kw: p[1], sh: s[0], sw: s[1], padding: padding)
            return .op(c, .pool(PoolParams(kind: kind, window: win)))
        }
    }

    static func global(_ kind: PoolKind, rank: Int) -> LayerFactory {
        return { c, w, _ in
            _ = try w.take([], for: c)
            try c.requireChannelsLast()
            return .op(c, .globalPool(kind, rank: rank, keepDims: try c.bool("keepdims", default: false)))
        }
    }
}
