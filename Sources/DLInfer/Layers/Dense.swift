/// Dense: y = activation(x · kernel + bias) over the last axis, for inputs of any rank >= 2.
final class Dense: UnaryLayer {
    let name: String
    let className = "Dense"
    let kernel: Tensor  // [in, units]
    let bias: [Float]?
    let activation: ActivationFunction

    init(name: String, kernel: Tensor, bias: [Float]?, activation: ActivationFunction) {
        self.name = name
        self.kernel = kernel
        self.bias = bias
        self.activation = activation
    }

    static func make(_ c: LayerConfig, _ w: StoredWeights) throws -> Layer {
        let units = try c.int("units")
        let useBias = try c.bool("use_bias", default: true)
        let t = try w.take(useBias ? ["kernel", "bias"] : ["kernel"], for: c)
        guard t[0].rank == 2 else { throw DLError.weights("\(c.context): weight 'kernel' has shape \(t[0].shape.described), expected (inputs, \(units))") }
        try requireShape(t[0], [t[0].shape[0], units], "kernel", c)
        if useBias { try requireShape(t[1], [units], "bias", c) }
        return Dense(name: c.name, kernel: t[0], bias: useBias ? t[1].data : nil, activation: try c.activation())
    }

    func outputShape(_ input: Shape) throws -> Shape {
        try requireRank(input, atLeast: 2)
        guard dimsAgree(input.last!, kernel.shape[0]) else {
            throw DLError.shape("input shape \(input.described) does not fit kernel \(kernel.shape.described)")
        }
        return input.dropLast() + [kernel.shape[1]]
    }

    func forward(_ x: Tensor) throws -> Tensor {
        let k = kernel.shape[0], n = kernel.shape[1]
        let m = x.count / max(k, 1)
        var y = Tensor(zeros: Array(x.shape.dropLast()) + [n])
        x.data.withUnsafeBufferPointer { a in
            kernel.data.withUnsafeBufferPointer { b in
                y.data.withUnsafeMutableBufferPointer { c in
                    sgemm(m: m, n: n, k: k, a: a.baseAddress!, lda: k, b: b.baseAddress!, ldb: n, c: c.baseAddress!, ldc: n)
                    if let bias { bias.withUnsafeBufferPointer { addBias(c.baseAddress!, rows: m, cols: n, bias: $0.baseAddress!) } }
                }
            }
        }
        try activation.apply(&y)
        return y
    }
}
