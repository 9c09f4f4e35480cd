/// Layers that are the identity at inference in Keras (Dropout and noise/regularisation layers):
/// they emit an identity node, which the EliminateIdentity pass removes.
enum InferenceIdentityLayer {
    static func make(_ c: LayerConfig, _ w: StoredWeights, _ g: inout IRGraph) throws -> LayerEmitter {
        _ = try w.take([], for: c)
        return .op(c, .identity)
    }
}
