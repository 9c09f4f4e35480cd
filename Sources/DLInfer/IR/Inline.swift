extension IRGraph {
    /// Adds a model input (name, int32?, shape with -1 batch) and returns the value consumers
    /// read: int32 inputs stay int32 and are cast once for the float layers that follow.
    mutating func addInput(_ port: (name: String, isInt32: Bool, shape: Shape)) -> ValueID {
        let v = newValue(port.isInt32 ? .i32 : .f32, port.shape)
        inputs.append(v)
        inputNames.append(port.name)
        guard port.isInt32 else { return v }
        let cast = newValue(.f32, port.shape)
        nodes.append(Node(op: .castToFloat, inputs: [v], outputs: [cast], origin: [port.name]))
        return cast
    }

    /// Copies `sub` (built on this graph's constant pool) into this graph, reading `args` as its
    /// inputs; returns the values of its outputs. Node origins are prefixed with its name.
    mutating func inline(_ sub: IRGraph, inputs args: [ValueID]) throws -> [ValueID] {
        guard args.count == sub.inputs.count else {
            throw DLError.shape("takes \(sub.inputs.count) input(s), got \(args.count)")
        }
        var map = [ValueID?](repeating: nil, count: sub.values.count)
        for (i, (v, a)) in zip(sub.inputs, args).enumerated() {
            let want = sub.values[v].shape, got = values[a].shape
            guard want.count == got.count, zip(want, got).allSatisfy({ dimsAgree($0, $1) }) else {
                throw DLError.shape("input '\(sub.inputNames[i])' expects shape \(want.described), got \(got.described)")
            }
            map[v] = a
        }
        func mapped(_ v: ValueID) -> ValueID {
            if let m = map[v] { return m }
            values.append(sub.values[v])
            map[v] = values.count - 1
            return values.count - 1
        }
        for n in sub.nodes {
            nodes.append(Node(op: n.op, inputs: n.inputs.map(mapped), outputs: n.outputs.map(mapped),
                              origin: n.origin.map { "\(sub.name)/\($0)" }))
        }
        return sub.outputs.map(mapped)
    }
}
