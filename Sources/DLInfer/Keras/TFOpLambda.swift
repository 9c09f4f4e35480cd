/// tf.keras / tf_keras record TensorFlow functions applied to Keras tensors as TFOpLambda
/// (and SlicingOpLambda) layers: {"function": "math.add"}, with the call in the node as
/// [first_tensor_or_"_CONSTANT_VALUE", node, index_or_value, {kwargs}]. They are translated to the
/// Keras 3 op they compute and emitted by OpLayers.
enum TFOpLambda {
    static let classNames: Set<String> = ["TFOpLambda", "SlicingOpLambda"]

    /// Function name -> (Keras 3 op, the TF keyword of each positional argument after the first).
    static let functions: [String: (op: String, args: [String])] = [
        "math.add": ("Add", ["y"]), "__operators__.add": ("Add", ["y"]),
        "math.subtract": ("Subtract", ["y"]), "__operators__.sub": ("Subtract", ["y"]),
        "math.multiply": ("Multiply", ["y"]), "__operators__.mul": ("Multiply", ["y"]),
        "math.truediv": ("TrueDivide", ["y"]), "math.divide": ("TrueDivide", ["y"]),
        "__operators__.truediv": ("TrueDivide", ["y"]),
        "math.maximum": ("Maximum", ["y"]), "math.minimum": ("Minimum", ["y"]), "math.pow": ("Power", ["y"]),
        "math.square": ("Square", []), "math.abs": ("Abs", []), "math.negative": ("Negative", []),
        "__operators__.neg": ("Negative", []), "math.sqrt": ("Sqrt", []), "math.exp": ("Exp", []),
        "math.log": ("Log", []), "math.reciprocal": ("Reciprocal", []), "math.sigmoid": ("Sigmoid", []),
        "nn.sigmoid": ("Sigmoid", []), "math.tanh": ("Tanh", []), "nn.tanh": ("Tanh", []),
        "nn.relu": ("Relu", []), "nn.relu6": ("Relu6", []), "nn.silu": ("Silu", []), "nn.swish": ("Silu", []),
        "math.softplus": ("Softplus", []), "nn.softplus": ("Softplus", []),
        "nn.softmax": ("Softmax", []), "math.softmax": ("Softmax", []),
        "math.reduce_mean": ("Mean", []), "math.reduce_sum": ("Sum", []),
        "math.reduce_max": ("Max", []), "math.reduce_min": ("Min", []),
        "reshape": ("Reshape", []), "transpose": ("Transpose", []), "compat.v1.transpose": ("Transpose", []),
        "concat": ("Concatenate", []), "expand_dims": ("ExpandDims", []), "squeeze": ("Squeeze", []),
        "__operators__.getitem": ("GetItem", []),
    ]

    /// Keyword arguments that become the op's config, renamed to the Keras 3 op's names.
    static let configKeys: [String: String] = [
        "axis": "axis", "keepdims": "keepdims", "shape": "newshape", "perm": "axes", "slice_spec": "slice_spec",
    ]

    /// Keyword arguments that change nothing at inference.
    static let ignoredKeys: Set<String> = ["name", "conjugate"]

    static func make(_ c: LayerConfig, node: JSON) throws -> (LayerEmitter, [TensorRef]) {
        let function = try c.string("function")
        guard let target = functions[function] else {
            throw DLError.unsupported("\(c.context): TensorFlow function tf.\(function) is not supported")
        }
        var refs: [TensorRef] = []
        func ref(_ a: [JSON]) -> TensorRef? {
            guard a.count >= 3, let n = a[0].string, n != "_CONSTANT_VALUE", let k = a[1].int, let i = a[2].int else { return nil }
            return TensorRef(layer: n, node: k, index: i)
        }
        func argument(_ v: JSON) -> OpArgument {
            if let a = v.array, let r = ref(a) {
                refs.append(r)
                return .tensor(refs.count - 1)
            }
            return .constant(v)
        }
        // The first positional argument: one tensor (flat entry), a constant, or a list of tensors.
        guard let entry = node.array, !entry.isEmpty else { throw c.error("malformed inbound node") }
        let first: OpArgument
        let kwargs: [String: JSON]
        if entry[0].string != nil {
            guard entry.count >= 3 else { throw c.error("malformed inbound node") }
            first = entry[0].string == "_CONSTANT_VALUE" ? .constant(entry[2]) : argument(.array(entry))
            kwargs = entry.count > 3 ? entry[3].object ?? [:] : [:]
        } else {
            let items = try entry.map { item -> [JSON] in
                guard let a = item.array, ref(a) != nil else { throw c.error("malformed inbound node") }
                return a
            }
            first = .tensors(items.map { a in refs.append(ref(a)!); return refs.count - 1 })
            kwargs = items[0].count > 3 ? items[0][3].object ?? [:] : [:]
        }
        var call = OpCall()
        call.args = [first]
        var config: [String: JSON] = ["name": .string(c.name)]
        for (key, value) in kwargs.sorted(by: { $0.key < $1.key }) {
            if let i = target.args.firstIndex(of: key) {
                while call.args.count <= i + 1 { call.args.append(.constant(.null)) }
                call.args[i + 1] = argument(value)
            } else if let k = configKeys[key] {
                config[k] = value
            } else if ignoredKeys.contains(key) || value.isNull {
                continue
            } else {
                throw c.unsupported(key, value)
            }
        }
        call.refs = refs
        let op = LayerConfig(className: target.op, name: c.name, json: config, semantics: c.semantics)
        let layer = try withContext("\(c.context) [tf.\(function)]") { try OpLayers.make(op, call: call) }
        return (layer, refs)
    }
}
