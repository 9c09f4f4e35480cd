/// Elementwise functions: Keras activations, the math functions of Keras ops and TF lambdas,
/// and the affine map a merge average needs. Executed by vectorised loops (Kernels/Unary.swift).
enum Activation: Equatable {
    case linear, relu, relu6, sigmoid, tanh, elu(alpha: Float), selu, softplus, softsign
    case swish, gelu(approximate: Bool), exponential, leakyRelu(slope: Float), mish
    case hardSigmoidKeras2, hardSigmoidKeras3, hardSwish
    case celu(alpha: Float), hardShrink(threshold: Float), softShrink(threshold: Float), hardTanh
    case logSigmoid, sparsePlus, sparseSigmoid, squareplus(b: Float), tanhShrink
    /// Keras' ReLU layer: threshold, negative slope below it, optional cap.
    case reluGeneral(maxValue: Float?, negativeSlope: Float, threshold: Float)
    case negative, abs, sqrt, square, log, reciprocal
    case scaleShift(scale: Float, shift: Float)

    var name: String {
        switch self {
        case .linear: return "linear"
        case .relu: return "relu"
        case .relu6: return "relu6"
        case .reluGeneral(let m, let s, let t):
            if s == 0 && t == 0 { return m.map { $0 == 6 ? "relu6" : "relu(max \($0))" } ?? "relu" }
            return "relu(max \(m.map { "\($0)" } ?? "none"), slope \(s), threshold \(t))"
        default: return "\(self)".split(separator: "(").first.map(String.init) ?? "\(self)"
        }
    }
}

/// What a Keras `activation` option or activation layer asks for: an elementwise function, or
/// one of the functions that work along an axis.
enum ActivationSpec: Equatable {
    case elementwise(Activation)
    case softmax(axis: Int, log: Bool)
    case glu(axis: Int)
    case sparsemax(axis: Int)
}
