/// Conv1D/2D (grouped), DepthwiseConv1D/2D, SeparableConv1D/2D and Conv1D/2DTranspose.
/// 1D layers run as 2D with height 1: Keras' 1D kernels share the 2D memory layout.

/// Spatial hyper-parameters common to the convolution family, read once from the config.
struct ConvSpec {
    let rank: Int               // 1 or 2
    let kernel: (Int, Int)
    let strides: (Int, Int)
    let dilation: (Int, Int)
    let padding: Padding

    init(_ c: LayerConfig, rank: Int, kernel: [Int]? = nil, allowCausal: Bool = false) throws {
        try c.requireChannelsLast()
        self.rank = rank
        let k = try kernel ?? c.ints("kernel_size", count: rank)
        let s = try c.ints("strides", count: rank, default: 1)
        let d = try c.ints("dilation_rate", count: rank, default: 1)
        guard (k + s + d).allSatisfy({ $0 >= 1 }) else { throw c.error("kernel, strides and dilation must be >= 1") }
        self.kernel = rank == 1 ? (1, k[0]) : (k[0], k[1])
        self.strides = rank == 1 ? (1, s[0]) : (s[0], s[1])
        self.dilation = rank == 1 ? (1, d[0]) : (d[0], d[1])
        self.padding = try c.padding(allowCausal: allowCausal)
        if padding == .causal && rank != 1 { throw c.unsupported("padding", .string("causal")) }
    }

    /// (N, H, W, C) view of a rank+2 shape.
    func view(_ s: Shape) throws -> (Int, Int, Int, Int) {
        try requireRank(s, rank + 2)
        return rank == 1 ? (s[0], 1, s[1], s[2]) : (s[0], s[1], s[2], s[3])
    }

    func shape(n: Int, h: Int, w: Int, c: Int) -> Shape { rank == 1 ? [n, w, c] : [n, h, w, c] }

    func geometry(h: Int, w: Int) -> (AxisGeometry, AxisGeometry) {
        (AxisGeometry.make(input: h, kernel: kernel.0, stride: strides.0, dilation: dilation.0, padding: rank == 1 ? .valid : padding),
         AxisGeometry.make(input: w, kernel: kernel.1, stride: strides.1, dilation: dilation.1, padding: padding))
    }
}

private func biasAndActivate(_ y: inout Tensor, bias: [Float]?, activation: ActivationFunction) throws {
    if let bias {
        let cols = bias.count
        y.data.withUnsafeMutableBufferPointer { o in
            bias.withUnsafeBufferPointer { addBias(o.baseAddress!, rows: o.count / cols, cols: cols, bias: $0.baseAddress!) }
        }
    }
    try activation.apply(&y)
}

/// Conv1D / Conv2D, including grouped convolution: im2col + GEMM per image and group.
final class Convolution: UnaryLayer {
    let name: String
    let className: String
    let spec: ConvSpec
    let kernel: Tensor  // [kh, kw, cin / groups, cout]
    let bias: [Float]?
    let groups: Int
    let activation: ActivationFunction

    init(name: String, className: String, spec: ConvSpec, kernel: Tensor, bias: [Float]?, groups: Int, activation: ActivationFunction) {
        self.name = name
        self.className = className
        self.spec = spec
        self.kernel = kernel
        self.bias = bias
        self.groups = groups
        self.activation = activation
    }

    static func make(rank: Int) -> (LayerConfig, StoredWeights) throws -> Layer {
        return { c, w in
            let spec = try ConvSpec(c, rank: rank, allowCausal: rank == 1)
            let filters = try c.int("filters")
            let groups = try c.int("groups", default: 1)
            guard groups >= 1, filters % groups == 0 else { throw c.error("filters \(filters) not divisible by groups \(groups)") }
            let useBias = try c.bool("use_bias", default: true)
            let t = try w.take(useBias ? ["kernel", "bias"] : ["kernel"], for: c)
            let k = t[0]
            let expectedRank = rank + 2
            guard k.rank == expectedRank, k.shape.last == filters else {
                throw DLError.weights("\(c.context): weight 'kernel' has shape \(k.shape.described), expected rank \(expectedRank) ending in \(filters)")
            }
            let kernelSize = rank == 1 ? [spec.kernel.1] : [spec.kernel.0, spec.kernel.1]
            try requireShape(k, kernelSize + [k.shape[rank], filters], "kernel", c)
            if useBias { try requireShape(t[1], [filters], "bias", c) }
            let kernel2d = Tensor(shape: [spec.kernel.0, spec.kernel.1, k.shape[rank], filters], data: k.data)
            return Convolution(name: c.name, className: c.className, spec: spec, kernel: kernel2d,
                               bias: useBias ? t[1].data : nil, groups: groups, activation: try c.activation())
        }
    }

    var inChannelsPerGroup: Int { kernel.shape[2] }
    var filters: Int { kernel.shape[3] }

    func outputShape(_ input: Shape) throws -> Shape {
        let (n, h, w, c) = try spec.view(input)
        guard dimsAgree(c, inChannelsPerGroup * groups) else {
            throw DLError.shape("input has \(c) channels, the kernel expects \(inChannelsPerGroup * groups)")
        }
        let (gh, gw) = spec.geometry(h: h, w: w)
        return spec.shape(n: n, h: gh.output, w: gw.output, c: filters)
    }

    func forward(_ x: Tensor) throws -> Tensor {
        let (n, h, w, c) = try spec.view(x.shape)
        let (gh, gw) = spec.geometry(h: h, w: w)
        let outPixels = gh.output * gw.output
        let cg = inChannelsPerGroup, og = filters / groups
        let rowLen = spec.kernel.0 * spec.kernel.1 * cg
        var y = Tensor(zeros: spec.shape(n: n, h: gh.output, w: gw.output, c: filters))
        if outPixels == 0 { return y }
        let pointwise = spec.kernel == (1, 1) && spec.strides == (1, 1) && groups == 1
        var cols = [Float](repeating: 0, count: pointwise ? 0 : outPixels * rowLen)
        x.data.withUnsafeBufferPointer { xp in
            kernel.data.withUnsafeBufferPointer { kp in
                y.data.withUnsafeMutableBufferPointer { yp in
                    cols.withUnsafeMutableBufferPointer { colp in
                        for img in 0..<n {
                            let src = xp.baseAddress! + img * h * w * c
                            let dst = yp.baseAddress! + img * outPixels * filters
                            if pointwise {
                                sgemm(m: outPixels, n: filters, k: c, a: src, lda: c, b: kp.baseAddress!, ldb: filters, c: dst, ldc: filters)
                                continue
                            }
                            for g in 0..<groups {
                                im2col(src, channels: c, c0: g * cg, cg: cg, h: gh, w: gw, cols: colp.baseAddress!)
                                sgemm(m: outPixels, n: og, k: rowLen, a: colp.baseAddress!, lda: rowLen,
                                      b: kp.baseAddress! + g * og, ldb: filters, c: dst + g * og, ldc: filters)
                            }
                        }
                    }
                }
            }
        }
        try biasAndActivate(&y, bias: bias, activation: activation)
        return y
    }
}

/// DepthwiseConv1D/2D, and the depthwise half of SeparableConv1D/2D.
final class DepthwiseConvolution: UnaryLayer {
    let name: String
    let className: String
    let spec: ConvSpec
    let kernel: Tensor  // [kh, kw, cin, multiplier]
    let bias: [Float]?
    let pointwise: Tensor?  // [cin * multiplier, cout] for separable convolutions
    let activation: ActivationFunction

    init(name: String, className: String, spec: ConvSpec, kernel: Tensor, bias: [Float]?, pointwise: Tensor?, activation: ActivationFunction) {
        self.name = name
        self.className = className
        self.spec = spec
        self.kernel = kernel
        self.bias = bias
        self.pointwise = pointwise
        self.activation = activation
    }

    static func make(rank: Int, separable: Bool) -> (LayerConfig, StoredWeights) throws -> Layer {
        return { c, w in
            let spec = try ConvSpec(c, rank: rank)
            let multiplier = try c.int("depth_multiplier", default: 1)
            let useBias = try c.bool("use_bias", default: true)
            var names = separable ? ["depthwise_kernel", "pointwise_kernel"] : ["depthwise_kernel"]
            if useBias { names.append("bias") }
            let t = try w.take(names, for: c)
            let dk = t[0]
            let kernelSize = rank == 1 ? [spec.kernel.1] : [spec.kernel.0, spec.kernel.1]
            guard dk.rank == rank + 2 else { throw DLError.weights("\(c.context): weight 'depthwise_kernel' has shape \(dk.shape.described), expected rank \(rank + 2)") }
            let cin = dk.shape[rank]
            try requireShape(dk, kernelSize + [cin, multiplier], "depthwise_kernel", c)
            var pw: Tensor?
            var outC = cin * multiplier
            if separable {
                let filters = try c.int("filters")
                try requireShape(t[1], [Int](repeating: 1, count: rank) + [cin * multiplier, filters], "pointwise_kernel", c)
                pw = Tensor(shape: [cin * multiplier, filters], data: t[1].data)
                outC = filters
            }
            if useBias { try requireShape(t[names.count - 1], [outC], "bias", c) }
            return DepthwiseConvolution(name: c.name, className: c.className, spec: spec,
                                        kernel: Tensor(shape: [spec.kernel.0, spec.kernel.1, cin, multiplier], data: dk.data),
                                        bias: useBias ? t[names.count - 1].data : nil, pointwise: pw, activation: try c.activation())
        }
    }

    var channels: Int { kernel.shape[2] }
    var multiplier: Int { kernel.shape[3] }
    var outChannels: Int { pointwise?.shape[1] ?? channels * multiplier }

    func outputShape(_ input: Shape) throws -> Shape {
        let (n, h, w, c) = try spec.view(input)
        guard dimsAgree(c, channels) else { throw DLError.shape("input has \(c) channels, the kernel expects \(channels)") }
        let (gh, gw) = spec.geometry(h: h, w: w)
        return spec.shape(n: n, h: gh.output, w: gw.output, c: outChannels)
    }

    func forward(_ x: Tensor) throws -> Tensor {
        let (n, h, w, c) = try spec.view(x.shape)
        let (gh, gw) = spec.geometry(h: h, w: w)
        let outPixels = gh.output * gw.output
        let mid = c * multiplier
        var depth = Tensor(zeros: spec.shape(n: n, h: gh.output, w: gw.output, c: mid))
        if outPixels == 0 { return Tensor(zeros: spec.shape(n: n, h: gh.output, w: gw.output, c: outChannels)) }
        x.data.withUnsafeBufferPointer { xp in
            kernel.data.withUnsafeBufferPointer { kp in
                depth.data.withUnsafeMutableBufferPointer { dp in
                    for img in 0..<n {
                        depthwiseConv(xp.baseAddress! + img * h * w * c, channels: c, multiplier: multiplier, h: gh, w: gw,
                                      kernel: kp.baseAddress!, out: dp.baseAddress! + img * outPixels * mid)
                    }
                }
            }
        }
        guard let pointwise else {
            try biasAndActivate(&depth, bias: bias, activation: activation)
            return depth
        }
        let cout = pointwise.shape[1]
        var y = Tensor(zeros: spec.shape(n: n, h: gh.output, w: gw.output, c: cout))
        depth.data.withUnsafeBufferPointer { a in
            pointwise.data.withUnsafeBufferPointer { b in
                y.data.withUnsafeMutableBufferPointer { o in
                    sgemm(m: n * outPixels, n: cout, k: mid, a: a.baseAddress!, lda: mid, b: b.baseAddress!, ldb: cout, c: o.baseAddress!, ldc: cout)
                }
            }
        }
        try biasAndActivate(&y, bias: bias, activation: activation)
        return y
    }
}

/// Conv1DTranspose / Conv2DTranspose: GEMM into columns, then scatter-add (col2im).
final class TransposedConvolution: UnaryLayer {
    let name: String
    let className: String
    let spec: ConvSpec
    let kernel: Tensor  // [kh, kw, cout, cin]
    let bias: [Float]?
    let outputPadding: (Int, Int)?
    let activation: ActivationFunction

    init(name: String, className: String, spec: ConvSpec, kernel: Tensor, bias: [Float]?, outputPadding: (Int, Int)?, activation: ActivationFunction) {
        self.name = name
        self.className = className
        self.spec = spec
        self.kernel = kernel
        self.bias = bias
        self.outputPadding = outputPadding
        self.activation = activation
    }

    static func make(rank: Int) -> (LayerConfig, StoredWeights) throws -> Layer {
        return { c, w in
            let spec = try ConvSpec(c, rank: rank)
            let filters = try c.int("filters")
            let useBias = try c.bool("use_bias", default: true)
            var outputPadding: (Int, Int)?
            if c["output_padding"] != nil {
                let p = try c.ints("output_padding", count: rank)
                outputPadding = rank == 1 ? (0, p[0]) : (p[0], p[1])
            }
            let t = try w.take(useBias ? ["kernel", "bias"] : ["kernel"], for: c)
            let k = t[0]
            let kernelSize = rank == 1 ? [spec.kernel.1] : [spec.kernel.0, spec.kernel.1]
            guard k.rank == rank + 2 else { throw DLError.weights("\(c.context): weight 'kernel' has shape \(k.shape.described), expected rank \(rank + 2)") }
            try requireShape(k, kernelSize + [filters, k.shape[rank + 1]], "kernel", c)
            if useBias { try requireShape(t[1], [filters], "bias", c) }
            return TransposedConvolution(name: c.name, className: c.className, spec: spec,
                                         kernel: Tensor(shape: [spec.kernel.0, spec.kernel.1, filters, k.shape[rank + 1]], data: k.data),
                                         bias: useBias ? t[1].data : nil, outputPadding: outputPadding, activation: try c.activation())
        }
    }

    var filters: Int { kernel.shape[2] }
    var inChannels: Int { kernel.shape[3] }

    /// Keras' deconv_output_length and the padding TensorFlow then places before the data.
    private func axis(_ input: Int, kernel k: Int, stride s: Int, dilation d: Int, outputPadding op: Int?) -> (length: Int, padBefore: Int) {
        guard input >= 0 else { return (-1, 0) }
        let eff = (k - 1) * d + 1
        let length: Int
        if let op {
            let pad = spec.padding == .same ? eff / 2 : 0
            length = (input - 1) * s + eff - 2 * pad + op
        } else {
            length = spec.padding == .same ? input * s : input * s + max(eff - s, 0)
        }
        let padBefore = spec.padding == .same ? max((input - 1) * s + eff - length, 0) / 2 : 0
        return (length, padBefore)
    }

    private func axes(h: Int, w: Int) -> ((length: Int, padBefore: Int), (length: Int, padBefore: Int)) {
        let ah = spec.rank == 1 ? (h, 0) : axis(h, kernel: spec.kernel.0, stride: spec.strides.0, dilation: spec.dilation.0, outputPadding: outputPadding?.0)
        let aw = axis(w, kernel: spec.kernel.1, stride: spec.strides.1, dilation: spec.dilation.1, outputPadding: outputPadding?.1)
        return (ah, aw)
    }

    func outputShape(_ input: Shape) throws -> Shape {
        let (n, h, w, c) = try spec.view(input)
        guard dimsAgree(c, inChannels) else { throw DLError.shape("input has \(c) channels, the kernel expects \(inChannels)") }
        let (ah, aw) = axes(h: h, w: w)
        return spec.shape(n: n, h: ah.length, w: aw.length, c: filters)
    }

    func forward(_ x: Tensor) throws -> Tensor {
        let (n, h, w, c) = try spec.view(x.shape)
        let (ah, aw) = axes(h: h, w: w)
        guard ah.length > 0, aw.length > 0 else { throw DLError.shape("input \(x.shape.described) gives an empty output") }
        let colLen = spec.kernel.0 * spec.kernel.1 * filters
        var cols = [Float](repeating: 0, count: h * w * colLen)
        var y = Tensor(zeros: spec.shape(n: n, h: ah.length, w: aw.length, c: filters))
        x.data.withUnsafeBufferPointer { xp in
            kernel.data.withUnsafeBufferPointer { kp in
                cols.withUnsafeMutableBufferPointer { cp in
                    y.data.withUnsafeMutableBufferPointer { yp in
                        for img in 0..<n {
                            sgemm(m: h * w, n: colLen, k: c, a: xp.baseAddress! + img * h * w * c, lda: c,
                                  b: kp.baseAddress!, ldb: c, transB: true, c: cp.baseAddress!, ldc: colLen)
                            col2imAdd(cp.baseAddress!, channels: filters, inH: h, inW: w, kh: spec.kernel.0, kw: spec.kernel.1,
                                      stride: spec.strides, dilation: spec.dilation, padBefore: (ah.padBefore, aw.padBefore),
                                      outH: ah.length, outW: aw.length, out: yp.baseAddress! + img * ah.length * aw.length * filters)
                        }
                    }
                }
            }
        }
        try biasAndActivate(&y, bias: bias, activation: activation)
        return y
    }
}
