/// The small helper layers keras.applications architectures define for themselves, supported by
/// class name as those architectures save them: CustomScaleLayer (InceptionResNetV2),
/// LayerScale and StochasticDepth (ConvNeXt).

/// CustomScaleLayer(scale)([x, r]) = x + r * scale.
final class CustomScaleLayer: Layer {
    let name: String
    let className = "CustomScaleLayer"
    let scale: Float

    init(name: String, scale: Float) {
        self.name = name
        self.scale = scale
    }

    static func make(_ c: LayerConfig, _ w: StoredWeights) throws -> Layer {
        _ = try w.take([], for: c)
        return CustomScaleLayer(name: c.name, scale: try c.float("scale"))
    }

    func outputShapes(_ inputs: [Shape]) throws -> [Shape] {
        guard inputs.count == 2, let s = broadcastShape(inputs[0], inputs[1]) else {
            throw DLError.shape("expects 2 inputs of matching shapes, got \(inputs.map { $0.described })")
        }
        return [s]
    }

    func forward(_ inputs: [Tensor]) throws -> [Tensor] {
        let s = scale
        return [try broadcastBinary(inputs[0], inputs[1]) { $0 + $1 * s }]
    }
}

/// LayerScale: x * gamma, gamma over the last axis.
final class LayerScale: UnaryLayer {
    let name: String
    let className = "LayerScale"
    let gamma: Tensor

    init(name: String, gamma: Tensor) {
        self.name = name
        self.gamma = gamma
    }

    static func make(_ c: LayerConfig, _ w: StoredWeights) throws -> Layer {
        let t = try w.take(["gamma"], for: c)
        let dim = try c.int("projection_dim")
        try requireShape(t[0], [dim], "gamma", c)
        return LayerScale(name: c.name, gamma: t[0])
    }

    func outputShape(_ input: Shape) throws -> Shape {
        guard let last = input.last, dimsAgree(last, gamma.count) else {
            throw DLError.shape("gamma of \(gamma.count) values does not fit input \(input.described)")
        }
        return input
    }

    func forward(_ x: Tensor) throws -> Tensor { try broadcastBinary(x, gamma, *) }
}
