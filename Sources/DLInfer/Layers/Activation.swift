/// Activation, ReLU, LeakyReLU, ELU, Softmax and PReLU layers.
enum ActivationLayers {
    private static func activation(_ c: LayerConfig, _ spec: ActivationSpec) -> LayerEmitter {
        LayerEmitter(name: c.name, className: c.className) { g, ins in
            guard ins.count == 1 else { throw DLError.shape("expects 1 input, got \(ins.count)") }
            // An explicit 'linear' activation layer stays a node for EliminateIdentity to drop.
            if spec == .elementwise(.linear) { return [try g.add(.unary(.linear), ins, origin: c.name)] }
            return [try g.activate(spec, ins[0], origin: c.name)]
        }
    }

    static func activationLayer(_ c: LayerConfig, _ w: StoredWeights, _ g: inout IRGraph) throws -> LayerEmitter {
        _ = try w.take([], for: c)
        return activation(c, try c.activation())
    }

    static func relu(_ c: LayerConfig, _ w: StoredWeights, _ g: inout IRGraph) throws -> LayerEmitter {
        _ = try w.take([], for: c)
        let maxValue = try c.optionalFloat("max_value")
        return activation(c, .elementwise(.reluGeneral(maxValue: maxValue, negativeSlope: try c.float("negative_slope", default: 0),
                                                       threshold: try c.float("threshold", default: 0))))
    }

    static func leakyReLU(_ c: LayerConfig, _ w: StoredWeights, _ g: inout IRGraph) throws -> LayerEmitter {
        _ = try w.take([], for: c)
        // tf_keras calls the slope `alpha`, Keras 3 `negative_slope`; both default to 0.3.
        let slope = try c.optionalFloat("negative_slope") ?? c.optionalFloat("alpha") ?? 0.3
        return activation(c, .elementwise(.leakyRelu(slope: slope)))
    }

    static func elu(_ c: LayerConfig, _ w: StoredWeights, _ g: inout IRGraph) throws -> LayerEmitter {
        _ = try w.take([], for: c)
        return activation(c, .elementwise(.elu(alpha: try c.float("alpha", default: 1))))
    }

    static func softmax(_ c: LayerConfig, _ w: StoredWeights, _ g: inout IRGraph) throws -> LayerEmitter {
        _ = try w.take([], for: c)
        return activation(c, .softmax(axis: try NormalizationLayers.singleAxis(c, default: -1), log: false))
    }

    /// PReLU: x for x >= 0, alpha * x otherwise, alpha broadcast over `shared_axes`.
    static func prelu(_ c: LayerConfig, _ w: StoredWeights, _ g: inout IRGraph) throws -> LayerEmitter {
        let alpha = try w.take(["alpha"], for: c)[0]
        return LayerEmitter(name: c.name, className: c.className) { g, ins in
            guard ins.count == 1 else { throw DLError.shape("expects 1 input, got \(ins.count)") }
            let x = g.values[ins[0]].shape
            guard x.count == alpha.rank + 1,
                  zip(x.dropFirst(), alpha.shape).allSatisfy({ $1 == 1 || dimsAgree($0, $1) }) else {
                throw DLError.shape("alpha of shape \(alpha.shape.described) does not fit input \(x.described)")
            }
            let a = g.constantValue(ConstTensor(shape: [1] + alpha.shape, data: alpha.data))
            return [try g.add(.binary(.prelu), [ins[0], a], origin: c.name)]
        }
    }
}
