/// A reference to one output tensor of one call of a layer in a Keras functional config.
struct TensorRef: Hashable {
    let layer: String
    let node: Int
    let index: Int
}

/// One argument of an op call as Keras 3 serialises it: a tensor, a list of tensors, or a constant.
enum OpArgument {
    case tensor(Int)       // index into the call's tensor inputs
    case tensors([Int])
    case constant(JSON)
}

/// The call of a functional-API op (`x + 3.0`, `ops.mean(x, axis=...)`): its arguments, with the
/// tensors it reads listed once, in order, as the node's inputs.
struct OpCall {
    var args: [OpArgument] = []
    var kwargs: [String: OpArgument] = [:]
    var refs: [TensorRef] = []

    init() {}

    /// Parses a Keras 3 node: {"args": [...], "kwargs": {...}}.
    init(keras3Node node: JSON, layer: String) throws {
        func history(_ v: JSON) -> TensorRef? {
            guard v["class_name"]?.string == "__keras_tensor__", let h = v["config"]?["keras_history"]?.array,
                  h.count >= 3, let n = h[0].string, let k = h[1].int, let i = h[2].int else { return nil }
            return TensorRef(layer: n, node: k, index: i)
        }
        func argument(_ v: JSON) -> OpArgument {
            if let r = history(v) {
                refs.append(r)
                return .tensor(refs.count - 1)
            }
            if let a = v.array, !a.isEmpty, a.allSatisfy({ history($0) != nil }) {
                return .tensors(a.map { x in refs.append(history(x)!); return refs.count - 1 })
            }
            return .constant(v)
        }
        guard let o = node.object else { throw DLError.format("layer '\(layer)': malformed inbound node") }
        args = (o["args"]?.array ?? []).map(argument)
        for (k, v) in (o["kwargs"]?.object ?? [:]).sorted(by: { $0.key < $1.key }) where !v.isNull {
            kwargs[k] = argument(v)
        }
    }
}
