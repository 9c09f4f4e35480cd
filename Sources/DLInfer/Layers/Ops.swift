/// One call of a Keras 3 functional-API op (keras.src.ops.numpy / .nn), also reached from
/// tf_keras TFOpLambda: arithmetic with tensors or constants, elementwise functions, reductions
/// and shape ops. Anything else is refused.
enum OpLayers {
    private enum Operand {
        case input(Int)
        case constant(Tensor)
    }

    static let unaryActivations: [String: Activation] = [
        "Relu": .relu, "Relu6": .relu6, "Sigmoid": .sigmoid, "Tanh": .tanh, "Exp": .exponential,
        "Silu": .swish, "Swish": .swish, "HardSigmoid": .hardSigmoidKeras3, "HardSilu": .hardSwish,
        "HardSwish": .hardSwish, "Softplus": .softplus, "Softsign": .softsign, "Mish": .mish,
        "Negative": .negative, "Abs": .abs, "Absolute": .abs, "Sqrt": .sqrt, "Square": .square,
        "Log": .log, "Reciprocal": .reciprocal,
    ]

    static let binaryKinds: [String: BinaryKind] = [
        "Add": .add, "Subtract": .subtract, "Multiply": .multiply, "Divide": .divide, "TrueDivide": .divide,
        "Power": .power, "Maximum": .maximum, "Minimum": .minimum,
    ]

    static func make(_ c: LayerConfig, call: OpCall) throws -> LayerEmitter {
        func operand(_ i: Int) throws -> Operand {
            guard i < call.args.count else { throw c.error("op call has \(call.args.count) argument(s), needs \(i + 1)") }
            switch call.args[i] {
            case .tensor(let t): return .input(t)
            case .tensors: throw c.unsupported("argument \(i)", .string("list of tensors"))
            case .constant(let v): return .constant(try constantTensor(v, c))
            }
        }
        func tensorInput() throws -> Int {
            guard case .input(let i) = try operand(0) else { throw c.error("op applied to a constant, not a tensor") }
            return i
        }
        for (key, value) in call.kwargs {
            guard case .constant(let v) = value, v.isNull else { throw c.unsupported("call argument '\(key)'", .string("given")) }
        }
        func single(_ op: @escaping (inout IRGraph, ValueID) throws -> ValueID, arguments: Int = 1) throws -> LayerEmitter {
            if call.args.count > arguments {
                throw c.unsupported("extra arguments", .array(Array(call.args.dropFirst(arguments).compactMap { if case .constant(let v) = $0 { return v } else { return nil } })))
            }
            let i = try tensorInput()
            return LayerEmitter(name: c.name, className: c.className) { g, ins in
                guard i < ins.count else { throw DLError.shape("the call has no tensor input") }
                return [try op(&g, ins[i])]
            }
        }

        if let kind = binaryKinds[c.className] {
            let a = try operand(0), b = try operand(1)
            return LayerEmitter(name: c.name, className: c.className) { g, ins in
                func value(_ o: Operand) throws -> ValueID {
                    switch o {
                    case .input(let i):
                        guard i < ins.count else { throw DLError.shape("the call has no tensor input \(i)") }
                        return ins[i]
                    case .constant(let t): return g.constantValue(ConstTensor(shape: t.shape, data: t.data))
                    }
                }
                return [try g.add(.binary(kind), [try value(a), try value(b)], origin: c.name)]
            }
        }
        if let f = unaryActivations[c.className] {
            return try single { g, x in try g.add(.unary(f), [x], origin: c.name) }
        }
        switch c.className {
        case "Gelu":
            let a = try c.bool("approximate", default: true)
            return try single { g, x in try g.add(.unary(.gelu(approximate: a)), [x], origin: c.name) }
        case "Softmax", "LogSoftmax":
            let axis = try c.int("axis", default: -1), log = c.className == "LogSoftmax"
            return try single { g, x in try g.add(.softmax(axis: axis, log: log), [x], origin: c.name) }
        case "Mean", "Sum", "Max", "Min":
            if c["initial"] != nil { throw c.unsupported("initial", c["initial"]!) }
            let r: ReduceKind = ["Mean": .mean, "Sum": .sum, "Max": .max, "Min": .min][c.className]!
            let axes = try c.intList("axis"), keep = try c.bool("keepdims", default: false)
            return try single { g, x in try g.add(.reduce(r, axes: axes, keepDims: keep), [x], origin: c.name) }
        case "Reshape":
            guard let shape = try c.intList("newshape") else { throw c.error("missing option 'newshape'") }
            return try single({ g, x in try g.add(.reshape(.full(shape)), [x], origin: c.name) }, arguments: 2)
        case "Transpose":
            let axes = try c.intList("axes")
            return try single({ g, x in
                let perm = axes ?? Array((0..<g.values[x].shape.count).reversed())
                return try g.add(.transpose(try perm.map { try normalizeAxis($0, rank: perm.count) }), [x], origin: c.name)
            }, arguments: 2)
        case "ExpandDims":
            guard let a = try c.intList("axis") else { throw c.error("missing option 'axis'") }
            return try single({ g, x in try g.add(.reshape(.expandDims(a)), [x], origin: c.name) }, arguments: 2)
        case "Squeeze":
            let a = try c.intList("axis")
            return try single({ g, x in try g.add(.reshape(.squeeze(a)), [x], origin: c.name) }, arguments: 2)
        case "GetItem":
            guard let spec = c["slice_spec"]?.array else { throw c.error("missing option 'slice_spec'") }
            let slices: [AxisSlice] = try spec.map { item in
                if let i = item.int { return AxisSlice(index: i) }
                guard let o = item.object, Set(o.keys).isSubset(of: ["start", "stop", "step"]) else { throw c.unsupported("slice_spec", item) }
                func bound(_ k: String) throws -> Int? {
                    guard let v = o[k], !v.isNull else { return nil }
                    guard let i = v.int else { throw c.unsupported("slice_spec", item) }
                    return i
                }
                return AxisSlice(start: try bound("start"), stop: try bound("stop"), step: try bound("step"))
            }
            return try single({ g, x in try g.add(.slice(slices), [x], origin: c.name) }, arguments: 2)
        case "Concatenate":
            guard case .tensors(let ts)? = call.args.first, !ts.isEmpty else { throw c.error("concatenate needs a list of tensors") }
            let axis = try c.int("axis", default: 0)
            return LayerEmitter(name: c.name, className: c.className) { g, ins in
                guard ts.allSatisfy({ $0 < ins.count }) else { throw DLError.shape("the call lacks tensor inputs") }
                return [try g.add(.concat(axis: axis), ts.map { ins[$0] }, origin: c.name)]
            }
        default:
            throw DLError.unsupported("\(c.context): Keras op '\(c.className)' is not supported")
        }
    }

    /// A JSON number or nested list of numbers as a tensor.
    private static func constantTensor(_ v: JSON, _ c: LayerConfig) throws -> Tensor {
        if let n = v.number { return Tensor(shape: [], data: [Float(n)]) }
        if let b = v.bool { return Tensor(shape: [], data: [b ? 1 : 0]) }
        var shape: [Int] = []
        var probe = v
        while let a = probe.array {
            shape.append(a.count)
            guard let first = a.first else { break }
            probe = first
        }
        var data: [Float] = []
        func flatten(_ j: JSON, depth: Int) throws {
            if let n = j.number, depth == shape.count { data.append(Float(n)); return }
            guard let a = j.array, depth < shape.count, a.count == shape[depth] else { throw c.unsupported("constant", v) }
            for x in a { try flatten(x, depth: depth + 1) }
        }
        try flatten(v, depth: 0)
        guard !data.isEmpty else { throw c.unsupported("constant", v) }
        return Tensor(shape: shape, data: data)
    }
}
