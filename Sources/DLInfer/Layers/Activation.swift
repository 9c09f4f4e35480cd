/// Activation, ReLU, LeakyReLU, ELU, Softmax and PReLU layers.
final class ActivationLayer: UnaryLayer {
    let name: String
    let className: String
    let function: ActivationFunction

    init(name: String, className: String, function: ActivationFunction) {
        self.name = name
        self.className = className
        self.function = function
    }

    static func makeActivation(_ c: LayerConfig, _ w: StoredWeights) throws -> Layer {
        _ = try w.take([], for: c)
        return ActivationLayer(name: c.name, className: c.className, function: try c.activation())
    }

    static func makeReLU(_ c: LayerConfig, _ w: StoredWeights) throws -> Layer {
        _ = try w.take([], for: c)
        let maxValue = try c.optionalFloat("max_value")
        return ActivationLayer(name: c.name, className: c.className,
                               function: .reluGeneral(maxValue: maxValue, negativeSlope: try c.float("negative_slope", default: 0),
                                                      threshold: try c.float("threshold", default: 0)))
    }

    static func makeLeakyReLU(_ c: LayerConfig, _ w: StoredWeights) throws -> Layer {
        _ = try w.take([], for: c)
        // tf_keras calls the slope `alpha`, Keras 3 `negative_slope`; both default to 0.3.
        let slope = try c.optionalFloat("negative_slope") ?? c.optionalFloat("alpha") ?? 0.3
        return ActivationLayer(name: c.name, className: c.className, function: .leakyRelu(slope: slope))
    }

    static func makeELU(_ c: LayerConfig, _ w: StoredWeights) throws -> Layer {
        _ = try w.take([], for: c)
        return ActivationLayer(name: c.name, className: c.className, function: .elu(alpha: try c.float("alpha", default: 1)))
    }

    static func makeSoftmax(_ c: LayerConfig, _ w: StoredWeights) throws -> Layer {
        _ = try w.take([], for: c)
        let axis = try AxisAffineLayer.singleAxis(c, default: -1)
        return ActivationLayer(name: c.name, className: c.className, function: .softmax(axis: axis))
    }

    func outputShape(_ input: Shape) throws -> Shape {
        switch function {
        case .softmax(let a), .logSoftmax(let a), .sparsemax(let a): _ = try normalizeAxis(a, rank: input.count)
        case .glu(let a):
            let axis = try normalizeAxis(a, rank: input.count)
            var out = input
            guard input[axis] < 0 || input[axis] % 2 == 0 else { throw DLError.shape("glu needs an even size on axis \(a), got \(input.described)") }
            if out[axis] > 0 { out[axis] /= 2 }
            return out
        default: break
        }
        return input
    }

    func forward(_ x: Tensor) throws -> Tensor {
        var y = x
        try function.apply(&y)
        return y
    }
}

/// PReLU: x for x >= 0, alpha * x otherwise, alpha broadcast over `shared_axes`.
final class PReLU: UnaryLayer {
    let name: String
    let className = "PReLU"
    let alpha: Tensor  // shape of the input without batch, 1 on shared axes

    init(name: String, alpha: Tensor) {
        self.name = name
        self.alpha = alpha
    }

    static func make(_ c: LayerConfig, _ w: StoredWeights) throws -> Layer {
        let t = try w.take(["alpha"], for: c)
        return PReLU(name: c.name, alpha: t[0])
    }

    func outputShape(_ input: Shape) throws -> Shape {
        guard input.count == alpha.rank + 1,
              zip(input.dropFirst(), alpha.shape).allSatisfy({ $1 == 1 || dimsAgree($0, $1) }) else {
            throw DLError.shape("alpha of shape \(alpha.shape.described) does not fit input \(input.described)")
        }
        return input
    }

    func forward(_ x: Tensor) throws -> Tensor {
        let a = Tensor(shape: [1] + alpha.shape, data: alpha.data)
        return try broadcastBinary(x, a) { $0 < 0 ? $0 * $1 : $0 }
    }
}
