/// One operation of the graph and the Keras layer(s) it came from.
struct Node {
    var op: Op
    var inputs: [ValueID]
    var outputs: [ValueID]
    var origin: [String]
}

/// The IR: numbered values, nodes in execution order, constants, and the model's ports.
struct IRGraph {
    var name: String
    var values: [ValueInfo] = []
    var nodes: [Node] = []
    var constants: [ConstTensor] = [] {
        didSet { if constants.count != constantShapes.count { constantShapes = constants.map(\.shape) } }
    }
    /// The constants' shapes, which outlive their data (released once ops hold their own copies).
    private(set) var constantShapes: [[Int]] = []
    var inputs: [ValueID] = []
    var inputNames: [String] = []
    var outputs: [ValueID] = []
    var outputNames: [String] = []
    var state: [StateBinding] = []

    init(name: String) { self.name = name }

    mutating func addConstant(_ t: ConstTensor) -> ConstID {
        constantShapes.append(t.shape)
        constants.append(t)
        return constants.count - 1
    }

    /// A value whose data is a constant.
    mutating func constantValue(_ t: ConstTensor) -> ValueID {
        let c = addConstant(t)
        values.append(ValueInfo(type: .f32, shape: t.shape, constant: c))
        return values.count - 1
    }

    mutating func newValue(_ type: ElementType, _ shape: Shape) -> ValueID {
        values.append(ValueInfo(type: type, shape: shape))
        return values.count - 1
    }

    /// How many node inputs and graph outputs read each value.
    func readerCounts() -> [Int] {
        var r = [Int](repeating: 0, count: values.count)
        for n in nodes { for v in n.inputs { r[v] += 1 } }
        for v in outputs { r[v] += 1 }
        return r
    }

    /// The index of the node producing each value (nil for inputs and constants).
    func producers() -> [Int?] {
        var p = [Int?](repeating: nil, count: values.count)
        for (i, n) in nodes.enumerated() { for v in n.outputs { p[v] = i } }
        return p
    }

    /// Replaces every read of `old` (by nodes and graph outputs) with `new`.
    mutating func replaceUses(of old: ValueID, with new: ValueID) {
        for i in nodes.indices {
            for j in nodes[i].inputs.indices where nodes[i].inputs[j] == old { nodes[i].inputs[j] = new }
        }
        for j in outputs.indices where outputs[j] == old { outputs[j] = new }
    }

    /// A readable listing: one line per node.
    func dump() -> String {
        var lines: [String] = []
        for n in nodes {
            let ins = n.inputs.map { "%\($0)\(values[$0].shape.described)" }.joined(separator: ", ")
            let outs = n.outputs.map { "%\($0)\(values[$0].shape.described)" }.joined(separator: ", ")
            lines.append("\(outs) = \(n.op.kindName)(\(ins))  <- \(n.origin.joined(separator: ", "))")
        }
        return lines.joined(separator: "\n")
    }
}
