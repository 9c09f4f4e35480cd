/// Add, Subtract, Multiply, Average, Maximum, Minimum (with broadcasting) and Concatenate.
enum MergeLayers {
    enum Kind: String { case add = "Add", subtract = "Subtract", multiply = "Multiply", average = "Average", maximum = "Maximum", minimum = "Minimum" }

    static func elementwise(_ kind: Kind) -> LayerFactory {
        return { c, w, _ in
            _ = try w.take([], for: c)
            let binary: BinaryKind
            switch kind {
            case .add, .average: binary = .add
            case .subtract: binary = .subtract
            case .multiply: binary = .multiply
            case .maximum: binary = .maximum
            case .minimum: binary = .minimum
            }
            return LayerEmitter(name: c.name, className: c.className) { g, ins in
                guard kind == .subtract ? ins.count == 2 : ins.count >= 1 else {
                    throw DLError.shape("\(kind.rawValue) takes \(kind == .subtract ? "exactly 2" : "at least 1") inputs, got \(ins.count)")
                }
                guard ins.count > 1 else { return [try g.add(.identity, ins, origin: c.name)] }
                var acc = ins[0]
                for v in ins.dropFirst() {
                    guard broadcastShape(g.values[acc].shape, g.values[v].shape) != nil else {
                        throw DLError.shape("input shapes \(g.values[acc].shape.described) and \(g.values[v].shape.described) do not match")
                    }
                    acc = try g.add(.binary(binary), [acc, v], origin: c.name)
                }
                if kind == .average { acc = try g.add(.unary(.scaleShift(scale: 1 / Float(ins.count), shift: 0)), [acc], origin: c.name) }
                return [acc]
            }
        }
    }

    static func concatenate(_ c: LayerConfig, _ w: StoredWeights, _ g: inout IRGraph) throws -> LayerEmitter {
        _ = try w.take([], for: c)
        return .op(c, .concat(axis: try c.int("axis", default: -1)))
    }
}
