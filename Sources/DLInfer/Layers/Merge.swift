/// Add, Subtract, Multiply, Average, Maximum, Minimum (with broadcasting) and Concatenate.
final class ElementwiseMerge: Layer {
    enum Op: String { case add = "Add", subtract = "Subtract", multiply = "Multiply", average = "Average", maximum = "Maximum", minimum = "Minimum" }
    let name: String
    let op: Op
    var className: String { op.rawValue }

    init(name: String, op: Op) {
        self.name = name
        self.op = op
    }

    static func make(_ op: Op) -> (LayerConfig, StoredWeights) throws -> Layer {
        return { c, w in
            _ = try w.take([], for: c)
            return ElementwiseMerge(name: c.name, op: op)
        }
    }

    func outputShapes(_ inputs: [Shape]) throws -> [Shape] {
        guard op == .subtract ? inputs.count == 2 : inputs.count >= 1 else {
            throw DLError.shape("\(op.rawValue) takes \(op == .subtract ? "exactly 2" : "at least 1") inputs, got \(inputs.count)")
        }
        var s = inputs[0]
        for t in inputs.dropFirst() {
            guard let b = broadcastShape(s, t) else { throw DLError.shape("input shapes \(s.described) and \(t.described) do not match") }
            s = b
        }
        return [s]
    }

    func forward(_ inputs: [Tensor]) throws -> [Tensor] {
        var acc = inputs[0]
        for t in inputs.dropFirst() {
            switch op {
            case .add, .average: acc = try broadcastBinary(acc, t, +)
            case .subtract: acc = try broadcastBinary(acc, t, -)
            case .multiply: acc = try broadcastBinary(acc, t, *)
            case .maximum: acc = try broadcastBinary(acc, t) { $0.isNaN || $0 > $1 ? $0 : $1 }
            case .minimum: acc = try broadcastBinary(acc, t) { $0.isNaN || $0 < $1 ? $0 : $1 }
            }
        }
        if op == .average {
            let n = Float(inputs.count)
            for i in acc.data.indices { acc.data[i] /= n }
        }
        return [acc]
    }
}

final class Concatenate: Layer {
    let name: String
    let className = "Concatenate"
    let axis: Int

    init(name: String, axis: Int) {
        self.name = name
        self.axis = axis
    }

    static func make(_ c: LayerConfig, _ w: StoredWeights) throws -> Layer {
        _ = try w.take([], for: c)
        return Concatenate(name: c.name, axis: try c.int("axis", default: -1))
    }

    func outputShapes(_ inputs: [Shape]) throws -> [Shape] {
        guard let first = inputs.first else { throw DLError.shape("needs at least 1 input") }
        let a = try normalizeAxis(axis, rank: first.count)
        guard a > 0 else { throw DLError.shape("cannot concatenate along the batch axis") }
        var out = first
        for s in inputs.dropFirst() {
            guard s.count == first.count else { throw DLError.shape("inputs of different ranks: \(first.described) and \(s.described)") }
            for d in 0..<s.count where d != a {
                guard dimsAgree(s[d], out[d]) else { throw DLError.shape("shapes \(first.described) and \(s.described) differ off the concatenation axis") }
                if out[d] < 0 { out[d] = s[d] }
            }
            out[a] = out[a] < 0 || s[a] < 0 ? -1 : out[a] + s[a]
        }
        return [out]
    }

    func forward(_ inputs: [Tensor]) throws -> [Tensor] {
        let shape = try outputShapes(inputs.map { $0.shape })[0]
        let a = try normalizeAxis(axis, rank: shape.count)
        let outer = shape[..<a].reduce(1, *)
        let inner = shape[(a + 1)...].reduce(1, *)
        var y = Tensor(zeros: shape)
        let rowOut = shape[a] * inner
        var offset = 0
        for t in inputs {
            let row = t.shape[a] * inner
            t.data.withUnsafeBufferPointer { tp in
                y.data.withUnsafeMutableBufferPointer { yp in
                    for o in 0..<outer {
                        (yp.baseAddress! + o * rowOut + offset).update(from: tp.baseAddress! + o * row, count: row)
                    }
                }
            }
            offset += row
        }
        return [y]
    }
}
