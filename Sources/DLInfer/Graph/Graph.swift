/// A validated dataflow graph: nodes in execution order over numbered values.
final class Graph {
    struct Node {
        let layer: Layer
        let inputs: [Int]
        let outputs: [Int]
    }

    struct Port {
        let name: String
        let isInt32: Bool
        let shape: Shape
    }

    let name: String
    let nodes: [Node]
    let inputValues: [Int]
    let outputValues: [Int]
    let inputPorts: [Port]
    let outputPorts: [Port]
    let valueCount: Int
    /// For each value, how many node inputs and graph outputs read it (to free dead activations).
    private let readers: [Int]

    /// Builds the graph and infers every value's shape; throws naming the layer whose shapes do not fit.
    init(name: String, nodes: [Node], inputValues: [Int], inputPorts: [(String, Bool, Shape)],
         outputValues: [Int], outputNames: [String], valueCount: Int) throws {
        self.name = name
        self.nodes = nodes
        self.inputValues = inputValues
        self.outputValues = outputValues
        self.valueCount = valueCount
        var shapes = [Shape?](repeating: nil, count: valueCount)
        for (v, port) in zip(inputValues, inputPorts) { shapes[v] = port.2 }
        for node in nodes {
            let ins: [Shape] = try node.inputs.map { v in
                guard let s = shapes[v] else {
                    throw DLError(.internal, "layer '\(node.layer.name)' reads a value before it is computed")
                }
                return s
            }
            let outs = try withContext("layer '\(node.layer.name)' (\(node.layer.className))") {
                try node.layer.outputShapes(ins)
            }
            guard outs.count == node.outputs.count else {
                throw DLError.shape("layer '\(node.layer.name)' (\(node.layer.className)) yields \(outs.count) outputs, the model uses \(node.outputs.count)")
            }
            for (v, s) in zip(node.outputs, outs) { shapes[v] = s }
        }
        self.inputPorts = inputPorts.map { Port(name: $0.0, isInt32: $0.1, shape: $0.2) }
        self.outputPorts = try zip(outputValues, outputNames).map { v, n in
            guard let s = shapes[v] else { throw DLError(.internal, "output '\(n)' is never computed") }
            return Port(name: n, isInt32: false, shape: s)
        }
        var readers = [Int](repeating: 0, count: valueCount)
        for node in nodes { for v in node.inputs { readers[v] += 1 } }
        for v in outputValues { readers[v] += 1 }
        self.readers = readers
    }

    /// Runs the graph. Inputs must already be checked against `inputPorts`.
    func run(_ inputs: [Tensor]) throws -> [Tensor] {
        var values = [Tensor?](repeating: nil, count: valueCount)
        var remaining = readers
        for (v, t) in zip(inputValues, inputs) { values[v] = t }
        for node in nodes {
            let context = "layer '\(node.layer.name)' (\(node.layer.className))"
            let ins = try node.inputs.map { v -> Tensor in
                guard let t = values[v] else { throw DLError(.internal, "\(context): input value \(v) missing") }
                return t
            }
            for v in node.inputs {
                remaining[v] -= 1
                if remaining[v] == 0 { values[v] = nil }
            }
            let outs = try withContext(context) { try node.layer.forward(ins) }
            guard outs.count == node.outputs.count else {
                throw DLError(.internal, "\(context): produced \(outs.count) outputs, expected \(node.outputs.count)")
            }
            for (v, t) in zip(node.outputs, outs) {
                // Run-time sizes (None dimensions) can shrink a tensor to nothing; no layer takes that.
                guard t.count > 0 else {
                    throw DLError.shape("\(context): output is empty (shape \(t.shape.described)) for input shape(s) \(ins.map { $0.shape.described }.joined(separator: ", "))")
                }
                values[v] = t
            }
        }
        return try outputValues.map { v in
            guard let t = values[v] else { throw DLError(.internal, "output value \(v) missing") }
            return t
        }
    }

    /// Checks run-time inputs against the declared ports: count, rank, fixed dims, one batch size.
    func validate(_ inputs: [Tensor]) throws {
        guard inputs.count == inputPorts.count else {
            throw DLError.shape("model '\(name)' takes \(inputPorts.count) input(s), got \(inputs.count)")
        }
        var batch: Int?
        for (t, p) in zip(inputs, inputPorts) {
            guard t.shape.count == p.shape.count,
                  zip(t.shape, p.shape).allSatisfy({ $1 < 0 ? $0 >= 0 : $0 == $1 }) else {
                throw DLError.shape("input '\(p.name)' expects shape \(p.shape.described), got \(t.shape.described)")
            }
            if let b = batch, let first = t.shape.first, b != first {
                throw DLError.shape("inputs disagree on batch size: \(b) vs \(first) for '\(p.name)'")
            }
            batch = t.shape.first
        }
    }
}

/// A model used as a layer inside another model.
final class GraphLayer: Layer {
    let graph: Graph
    var name: String { graph.name }
    let className: String

    init(graph: Graph, className: String) {
        self.graph = graph
        self.className = className
    }

    func outputShapes(_ inputs: [Shape]) throws -> [Shape] {
        guard inputs.count == graph.inputPorts.count else {
            throw DLError.shape("takes \(graph.inputPorts.count) input(s), got \(inputs.count)")
        }
        for (s, p) in zip(inputs, graph.inputPorts) {
            guard s.count == p.shape.count, zip(s, p.shape).allSatisfy({ dimsAgree($0, $1) }) else {
                throw DLError.shape("input '\(p.name)' expects shape \(p.shape.described), got \(s.described)")
            }
        }
        return graph.outputPorts.map { $0.shape }
    }

    func forward(_ inputs: [Tensor]) throws -> [Tensor] {
        try graph.validate(inputs)
        return try graph.run(inputs)
    }
}
