/// Conv1D/2D (grouped), DepthwiseConv1D/2D, SeparableConv1D/2D and Conv1D/2DTranspose.
/// 1D layers are 2D of height 1: Keras' 1D kernels share the 2D memory layout.
enum ConvolutionLayers {
    /// The window options common to the family.
    static func window(_ c: LayerConfig, rank: Int, allowCausal: Bool = false) throws -> Window {
        try c.requireChannelsLast()
        let k = try c.ints("kernel_size", count: rank)
        let s = try c.ints("strides", count: rank, default: 1)
        let d = try c.ints("dilation_rate", count: rank, default: 1)
        guard (k + s + d).allSatisfy({ $0 >= 1 }) else { throw c.error("kernel, strides and dilation must be >= 1") }
        let padding = try c.padding(allowCausal: allowCausal)
        if padding == .causal && rank != 1 { throw c.unsupported("padding", .string("causal")) }
        return rank == 1 ? Window(rank: 1, kh: 1, kw: k[0], sh: 1, sw: s[0], dh: 1, dw: d[0], padding: padding.spec)
                         : Window(rank: 2, kh: k[0], kw: k[1], sh: s[0], sw: s[1], dh: d[0], dw: d[1], padding: padding.spec)
    }

    private static func kernelSize(_ w: Window) -> [Int] { w.rank == 1 ? [w.kw] : [w.kh, w.kw] }

    static func conv(rank: Int) -> LayerFactory {
        return { c, w, g in
            let win = try window(c, rank: rank, allowCausal: rank == 1)
            let filters = try c.int("filters")
            let groups = try c.int("groups", default: 1)
            guard groups >= 1, filters % groups == 0 else { throw c.error("filters \(filters) not divisible by groups \(groups)") }
            let useBias = try c.bool("use_bias", default: true)
            let t = try w.take(useBias ? ["kernel", "bias"] : ["kernel"], for: c)
            let k = t[0]
            guard k.rank == rank + 2, k.shape.last == filters else {
                throw DLError.weights("\(c.context): weight 'kernel' has shape \(k.shape.described), expected rank \(rank + 2) ending in \(filters)")
            }
            try requireShape(k, kernelSize(win) + [k.shape[rank], filters], "kernel", c)
            if useBias { try requireShape(t[1], [filters], "bias", c) }
            let weights = g.addConstant(Tensor(shape: [win.kh, win.kw, k.shape[rank], filters], data: k.data))
            let p = ConvParams(window: win, groups: groups, weights: weights,
                               epilogue: Epilogue(bias: useBias ? g.addConstant(t[1]) : nil))
            return .op(c, .conv(p), activation: try c.activation())
        }
    }

    /// DepthwiseConv1D/2D, and SeparableConv1D/2D as a depthwise then a 1x1 convolution.
    static func depthwise(rank: Int, separable: Bool) -> LayerFactory {
        return { c, w, g in
            let win = try window(c, rank: rank)
            let multiplier = try c.int("depth_multiplier", default: 1)
            let useBias = try c.bool("use_bias", default: true)
            var names = separable ? ["depthwise_kernel", "pointwise_kernel"] : ["depthwise_kernel"]
            if useBias { names.append("bias") }
            let t = try w.take(names, for: c)
            let dk = t[0]
            guard dk.rank == rank + 2 else { throw DLError.weights("\(c.context): weight 'depthwise_kernel' has shape \(dk.shape.described), expected rank \(rank + 2)") }
            let cin = dk.shape[rank]
            try requireShape(dk, kernelSize(win) + [cin, multiplier], "depthwise_kernel", c)
            let depthWeights = g.addConstant(Tensor(shape: [win.kh, win.kw, cin, multiplier], data: dk.data))
            let bias = useBias ? t[names.count - 1] : nil
            let activation = try c.activation()
            guard separable else {
                if let bias { try requireShape(bias, [cin * multiplier], "bias", c) }
                let p = DepthwiseParams(window: win, multiplier: multiplier, weights: depthWeights,
                                        epilogue: Epilogue(bias: bias.map { g.addConstant($0) }))
                return .op(c, .depthwise(p), activation: activation)
            }
            let filters = try c.int("filters")
            try requireShape(t[1], [Int](repeating: 1, count: rank) + [cin * multiplier, filters], "pointwise_kernel", c)
            if let bias { try requireShape(bias, [filters], "bias", c) }
            let depth = DepthwiseParams(window: win, multiplier: multiplier, weights: depthWeights, epilogue: Epilogue())
            let point = ConvParams(window: Window(rank: rank, kh: 1, kw: 1, sh: 1, sw: 1, padding: .valid), groups: 1,
                                   weights: g.addConstant(Tensor(shape: [1, 1, cin * multiplier, filters], data: t[1].data)),
                                   epilogue: Epilogue(bias: bias.map { g.addConstant($0) }))
            return LayerEmitter(name: c.name, className: c.className) { g, ins in
                let d = try g.add(.depthwise(depth), ins, origin: c.name)
                let y = try g.add(.conv(point), [d], origin: c.name)
                return [try g.activate(activation, y, origin: c.name)]
            }
        }
    }

    static func transposed(rank: Int) -> LayerFactory {
        return { c, w, g in
            let win = try window(c, rank: rank)
            let filters = try c.int("filters")
            let useBias = try c.bool("use_bias", default: true)
            var outputPadding: (h: Int, w: Int)?
            if c["output_padding"] != nil, !(c["output_padding"]!.isNull) {
                let p = try c.ints("output_padding", count: rank)
                outputPadding = rank == 1 ? (0, p[0]) : (p[0], p[1])
            }
            let t = try w.take(useBias ? ["kernel", "bias"] : ["kernel"], for: c)
            let k = t[0]
            guard k.rank == rank + 2 else { throw DLError.weights("\(c.context): weight 'kernel' has shape \(k.shape.described), expected rank \(rank + 2)") }
            try requireShape(k, kernelSize(win) + [filters, k.shape[rank + 1]], "kernel", c)
            if useBias { try requireShape(t[1], [filters], "bias", c) }
            let p = TransposedConvParams(window: win, outputPadding: outputPadding,
                                         weights: g.addConstant(Tensor(shape: [win.kh, win.kw, filters, k.shape[rank + 1]], data: k.data)),
                                         epilogue: Epilogue(bias: useBias ? g.addConstant(t[1]) : nil))
            return .op(c, .transposedConv(p), activation: try c.activation())
        }
    }
}
