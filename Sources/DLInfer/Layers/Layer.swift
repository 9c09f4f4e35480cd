/// A parsed Keras layer: its options read and its weights checked and registered as constants.
/// `emit` adds the IR nodes of one call of the layer; it holds no math.
struct LayerEmitter {
    let name: String
    let className: String
    var outputCount = 1
    let emit: (inout IRGraph, [ValueID]) throws -> [ValueID]

    var context: String { "layer '\(name)' (\(className))" }

    /// A layer computing one op on its inputs, then its activation.
    static func op(_ c: LayerConfig, _ op: Op, activation: ActivationSpec = .elementwise(.linear)) -> LayerEmitter {
        LayerEmitter(name: c.name, className: c.className) { g, ins in
            switch op {
            case .binary: guard ins.count == 2 else { throw DLError.shape("expects 2 inputs, got \(ins.count)") }
            case .concat: guard ins.count >= 1 else { throw DLError.shape("needs at least 1 input") }
            default: guard ins.count == 1 else { throw DLError.shape("expects 1 input, got \(ins.count)") }
            }
            let y = try g.add(op, ins, origin: c.name)
            return [try g.activate(activation, y, origin: c.name)]
        }
    }
}

/// Keras class name -> parser of its config and weights.
typealias LayerFactory = (LayerConfig, StoredWeights, inout IRGraph) throws -> LayerEmitter

extension IRGraph {
    /// Appends a single-output node after inferring its output shape.
    mutating func add(_ op: Op, _ inputs: [ValueID], origin: String) throws -> ValueID {
        guard inputs.count >= 1 else { throw DLError.shape("expects an input tensor, the call has none") }
        let outs = try inferShapes(op, inputs.map { values[$0].shape }, constantShapes)
        let ids = outs.map { newValue(.f32, $0) }
        nodes.append(Node(op: op, inputs: inputs, outputs: ids, origin: [origin]))
        return ids[0]
    }

    /// Applies a Keras activation option to `v` (nothing for `linear`).
    mutating func activate(_ spec: ActivationSpec, _ v: ValueID, origin: String) throws -> ValueID {
        switch spec {
        case .elementwise(.linear): return v
        case .elementwise(let a): return try add(.unary(a), [v], origin: origin)
        case .softmax(let axis, let log): return try add(.softmax(axis: axis, log: log), [v], origin: origin)
        case .glu(let axis): return try add(.glu(axis: axis), [v], origin: origin)
        case .sparsemax(let axis): return try add(.sparsemax(axis: axis), [v], origin: origin)
        }
    }

    mutating func addConstant(_ t: Tensor) -> ConstID { addConstant(ConstTensor(shape: t.shape, data: t.data)) }
}

/// Checks a run-time or static shape against the rank a layer needs.
func requireRank(_ shape: Shape, _ rank: Int, _ what: String = "input") throws {
    guard shape.count == rank else {
        throw DLError.shape("expects a rank-\(rank) \(what), got shape \(shape.described)")
    }
}

func requireRank(_ shape: Shape, atLeast rank: Int) throws {
    guard shape.count >= rank else {
        throw DLError.shape("expects an input of rank >= \(rank), got shape \(shape.described)")
    }
}

/// Combines a known and a possibly unknown dimension during shape inference.
func dimsAgree(_ a: Int, _ b: Int) -> Bool { a < 0 || b < 0 || a == b }
