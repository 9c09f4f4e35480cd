/// Dense: activation(x · kernel + bias) over the last axis, for inputs of any rank >= 2.
enum DenseLayer {
    static func make(_ c: LayerConfig, _ w: StoredWeights, _ g: inout IRGraph) throws -> LayerEmitter {
        let units = try c.int("units")
        let useBias = try c.bool("use_bias", default: true)
        let t = try w.take(useBias ? ["kernel", "bias"] : ["kernel"], for: c)
        guard t[0].rank == 2 else { throw DLError.weights("\(c.context): weight 'kernel' has shape \(t[0].shape.described), expected (inputs, \(units))") }
        try requireShape(t[0], [t[0].shape[0], units], "kernel", c)
        if useBias { try requireShape(t[1], [units], "bias", c) }
        let p = DenseParams(weights: g.addConstant(t[0]), epilogue: Epilogue(bias: useBias ? g.addConstant(t[1]) : nil))
        return .op(c, .dense(p), activation: try c.activation())
    }
}
