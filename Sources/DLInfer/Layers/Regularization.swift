/// Layers that are the identity at inference in Keras (Dropout and noise/regularisation layers):
/// Keras' own inference output equals the input, and the fixtures check exactly that.
final class InferenceIdentity: UnaryLayer {
    let name: String
    let className: String

    init(name: String, className: String) {
        self.name = name
        self.className = className
    }

    static func make(_ c: LayerConfig, _ w: StoredWeights) throws -> Layer {
        _ = try w.take([], for: c)
        return InferenceIdentity(name: c.name, className: c.className)
    }

    func outputShape(_ input: Shape) throws -> Shape { input }
    func forward(_ x: Tensor) throws -> Tensor { x }
}
