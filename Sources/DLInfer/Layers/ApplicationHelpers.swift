/// The small helper layers keras.applications architectures define for themselves, supported by
/// class name as those architectures save them: CustomScaleLayer (InceptionResNetV2),
/// LayerScale and StochasticDepth (ConvNeXt, an inference identity).
enum ApplicationHelperLayers {
    /// CustomScaleLayer(scale)([x, r]) = x + r * scale.
    static func customScale(_ c: LayerConfig, _ w: StoredWeights, _ g: inout IRGraph) throws -> LayerEmitter {
        _ = try w.take([], for: c)
        let scale = try c.float("scale")
        return LayerEmitter(name: c.name, className: c.className) { g, ins in
            guard ins.count == 2 else { throw DLError.shape("expects 2 inputs, got \(ins.count)") }
            return [try g.add(.binary(.addScaled(scale)), ins, origin: c.name)]
        }
    }

    /// LayerScale: x * gamma, gamma over the last axis.
    static func layerScale(_ c: LayerConfig, _ w: StoredWeights, _ g: inout IRGraph) throws -> LayerEmitter {
        let t = try w.take(["gamma"], for: c)
        let dim = try c.int("projection_dim")
        try requireShape(t[0], [dim], "gamma", c)
        let gamma = t[0]
        return LayerEmitter(name: c.name, className: c.className) { g, ins in
            guard ins.count == 1 else { throw DLError.shape("expects 1 input, got \(ins.count)") }
            guard let last = g.values[ins[0]].shape.last, dimsAgree(last, gamma.count) else {
                throw DLError.shape("gamma of \(gamma.count) values does not fit input \(g.values[ins[0]].shape.described)")
            }
            let k = g.constantValue(ConstTensor(shape: gamma.shape, data: gamma.data))
            return [try g.add(.binary(.multiply), [ins[0], k], origin: c.name)]
        }
    }
}
