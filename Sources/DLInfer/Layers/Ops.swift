import Glibc

/// One call of a Keras 3 functional-API op (keras.src.ops.numpy / .nn): arithmetic with tensors
/// or constants, elementwise functions, reductions and shape ops. Anything else is refused.
final class OpLayer: Layer {
    enum Operand {
        case input(Int)
        case constant(Tensor)
    }

    enum Kind {
        case binary((Float, Float) -> Float, Operand, Operand)
        case unary(ActivationFunction, Operand)
        case map((Float) -> Float, Operand)
        case reduce(Reduction, axes: [Int]?, keepDims: Bool)
        case reshape([Int])
        case transpose([Int]?)
        case concatenate(axis: Int, [Int])
        case expandDims([Int])
        case squeeze([Int]?)
        case slice([AxisSlice])
    }

    /// Python slicing of one axis: x[start:stop:step], or x[index] (which drops the axis).
    struct AxisSlice {
        var start: Int?, stop: Int?, step: Int?
        var index: Int?

        /// The input positions this slice keeps along an axis of `size` (Python's slice.indices).
        func positions(_ size: Int) throws -> [Int] {
            if let index {
                let i = index < 0 ? index + size : index
                guard i >= 0 && i < size else { throw DLError.shape("index \(index) out of range for size \(size)") }
                return [i]
            }
            let st = step ?? 1
            guard st != 0 else { throw DLError.shape("slice step 0") }
            func clampStart(_ v: Int?, _ dflt: Int) -> Int {
                guard var v else { return dflt }
                if v < 0 { v += size }
                return st > 0 ? Swift.min(Swift.max(v, 0), size) : Swift.min(Swift.max(v, -1), size - 1)
            }
            let lo = clampStart(start, st > 0 ? 0 : size - 1)
            let hi = clampStart(stop, st > 0 ? size : -1)
            return Array(stride(from: lo, to: hi, by: st))
        }
    }

    enum Reduction { case sum, mean, max, min }

    let name: String
    let className: String
    let kind: Kind

    init(name: String, className: String, kind: Kind) {
        self.name = name
        self.className = className
        self.kind = kind
    }

    // MARK: Building from a config and a call

    static func make(_ c: LayerConfig, call: OpCall) throws -> Layer {
        func operand(_ i: Int) throws -> Operand {
            guard i < call.args.count else { throw c.error("op call has \(call.args.count) argument(s), needs \(i + 1)") }
            switch call.args[i] {
            case .tensor(let t): return .input(t)
            case .tensors: throw c.unsupported("argument \(i)", .string("list of tensors"))
            case .constant(let v): return .constant(try constantTensor(v, c))
            }
        }
        func axes(_ key: String) throws -> [Int]? { try c.intList(key) }
        let unary: [String: ActivationFunction] = [
            "Relu": .relu, "Relu6": .relu6, "Sigmoid": .sigmoid, "Tanh": .tanh, "Exp": .exponential,
            "Silu": .swish, "Swish": .swish, "HardSigmoid": .hardSigmoidKeras3, "HardSilu": .hardSwish,
            "HardSwish": .hardSwish, "Softplus": .softplus, "Softsign": .softsign, "Mish": .mish,
        ]
        let kind: Kind
        switch c.className {
        case "Add": kind = .binary(+, try operand(0), try operand(1))
        case "Subtract": kind = .binary(-, try operand(0), try operand(1))
        case "Multiply": kind = .binary(*, try operand(0), try operand(1))
        case "Divide", "TrueDivide": kind = .binary(/, try operand(0), try operand(1))
        case "Power": kind = .binary({ powf($0, $1) }, try operand(0), try operand(1))
        case "Maximum": kind = .binary({ $0.isNaN || $0 > $1 ? $0 : $1 }, try operand(0), try operand(1))
        case "Minimum": kind = .binary({ $0.isNaN || $0 < $1 ? $0 : $1 }, try operand(0), try operand(1))
        case "Negative": kind = .map({ a in -a }, try operand(0))
        case "Abs", "Absolute": kind = .map({ a in abs(a) }, try operand(0))
        case "Sqrt": kind = .map({ a in a.squareRoot() }, try operand(0))
        case "Square": kind = .map({ a in a * a }, try operand(0))
        case "Log": kind = .map({ a in logf(a) }, try operand(0))
        case "Reciprocal": kind = .map({ a in 1 / a }, try operand(0))
        case "Gelu": kind = .unary(.gelu(approximate: try c.bool("approximate", default: true)), try operand(0))
        case "Softmax": kind = .unary(.softmax(axis: try c.int("axis", default: -1)), try operand(0))
        case "LogSoftmax": kind = .unary(.logSoftmax(axis: try c.int("axis", default: -1)), try operand(0))
        case let name where unary[name] != nil: kind = .unary(unary[name]!, try operand(0))
        case "Mean", "Sum", "Max", "Min":
            if c["initial"] != nil { throw c.unsupported("initial", c["initial"]!) }
            let r: Reduction = ["Mean": .mean, "Sum": .sum, "Max": .max, "Min": .min][c.className]!
            guard case .input = try operand(0) else { throw c.error("reduction of a constant") }
            kind = .reduce(r, axes: try axes("axis"), keepDims: try c.bool("keepdims", default: false))
        case "Reshape":
            guard let shape = try c.intList("newshape") else { throw c.error("missing option 'newshape'") }
            kind = .reshape(shape)
        case "Transpose": kind = .transpose(try axes("axes"))
        case "ExpandDims":
            guard let a = try axes("axis") else { throw c.error("missing option 'axis'") }
            kind = .expandDims(a)
        case "Squeeze": kind = .squeeze(try axes("axis"))
        case "GetItem":
            guard let spec = c["slice_spec"]?.array else { throw c.error("missing option 'slice_spec'") }
            kind = .slice(try spec.map { item in
                if let i = item.int { return AxisSlice(index: i) }
                guard let o = item.object, Set(o.keys).isSubset(of: ["start", "stop", "step"]) else { throw c.unsupported("slice_spec", item) }
                func bound(_ k: String) throws -> Int? {
                    guard let v = o[k], !v.isNull else { return nil }
                    guard let i = v.int else { throw c.unsupported("slice_spec", item) }
                    return i
                }
                return AxisSlice(start: try bound("start"), stop: try bound("stop"), step: try bound("step"))
            })
        case "Concatenate":
            guard case .tensors(let ts)? = call.args.first else { throw c.error("concatenate needs a list of tensors") }
            kind = .concatenate(axis: try c.int("axis", default: 0), ts)
        default:
            throw DLError.unsupported("\(c.context): Keras op '\(c.className)' is not supported")
        }
        var elementwise = false
        switch kind {
        case .unary, .map: elementwise = true
        default: break
        }
        if elementwise, call.args.count > 1 {
            throw c.unsupported("extra arguments", .array(Array(call.args.dropFirst().compactMap { if case .constant(let v) = $0 { return v } else { return nil } })))
        }
        for (key, value) in call.kwargs {
            guard case .constant(let v) = value, v.isNull else { throw c.unsupported("call argument '\(key)'", .string("given")) }
        }
        return OpLayer(name: c.name, className: c.className, kind: kind)
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
        return Tensor(shape: shape, data: data)
    }

    // MARK: Shapes

    private func shape(_ o: Operand, _ inputs: [Shape]) -> Shape {
        switch o {
        case .input(let i): return inputs[i]
        case .constant(let t): return t.shape
        }
    }

    private func reducedAxes(_ axes: [Int]?, rank: Int) throws -> [Int] {
        guard let axes else { return Array(0..<rank) }
        return try Set(axes.map { try normalizeAxis($0, rank: rank) }).sorted()
    }

    private func resolveReshape(_ target: [Int], from input: Shape) throws -> Shape {
        let known = input.allSatisfy { $0 >= 0 }
        guard known else { return target }
        let total = input.elementCount
        let fixed = target.filter { $0 != -1 }.elementCount
        var out = target
        if let free = target.firstIndex(of: -1) {
            guard fixed > 0, total % fixed == 0 else { throw DLError.shape("cannot reshape \(input.described) to \(target.described)") }
            out[free] = total / fixed
        }
        guard out.elementCount == total else { throw DLError.shape("cannot reshape \(input.described) to \(target.described)") }
        return out
    }

    func outputShapes(_ inputs: [Shape]) throws -> [Shape] {
        switch kind {
        case .binary(_, let a, let b):
            guard let s = broadcastShape(shape(a, inputs), shape(b, inputs)) else {
                throw DLError.shape("shapes \(shape(a, inputs).described) and \(shape(b, inputs).described) do not broadcast")
            }
            return [s]
        case .map(_, let a):
            return [shape(a, inputs)]
        case .unary(let f, let a):
            let s = shape(a, inputs)
            if case .softmax(let axis) = f { _ = try normalizeAxis(axis, rank: s.count) }
            return [s]
        case .reduce(_, let axes, let keep):
            let s = inputs[0]
            let r = try reducedAxes(axes, rank: s.count)
            return [keep ? s.enumerated().map { r.contains($0.offset) ? 1 : $0.element }
                         : s.enumerated().filter { !r.contains($0.offset) }.map { $0.element }]
        case .reshape(let target):
            return [try resolveReshape(target, from: inputs[0])]
        case .transpose(let perm):
            let s = inputs[0]
            let p = perm ?? Array((0..<s.count).reversed())
            guard Set(p) == Set(0..<s.count) else { throw DLError.shape("bad transpose axes \(p) for \(s.described)") }
            return [p.map { s[$0] }]
        case .concatenate(let axis, let ts):
            return try Concatenate(name: name, axis: axis).outputShapes(ts.map { inputs[$0] })
        case .expandDims(let axes):
            var s = inputs[0]
            let rank = s.count + axes.count
            for a in try axes.map({ try normalizeAxis($0, rank: rank) }).sorted() { s.insert(1, at: a) }
            return [s]
        case .squeeze(let axes):
            let s = inputs[0]
            let drop = try axes.map { try $0.map { try normalizeAxis($0, rank: s.count) } } ?? s.indices.filter { s[$0] == 1 }
            for a in drop where s[a] != 1 && s[a] >= 0 { throw DLError.shape("cannot squeeze axis \(a) of \(s.described)") }
            return [s.enumerated().filter { !drop.contains($0.offset) }.map { $0.element }]
        case .slice(let spec):
            let s = inputs[0]
            guard spec.count <= s.count else { throw DLError.shape("\(spec.count) slice entries for rank \(s.count)") }
            var out: Shape = []
            for (d, size) in s.enumerated() {
                guard d < spec.count else { out.append(size); continue }
                if spec[d].index != nil { continue }
                out.append(size < 0 ? -1 : try spec[d].positions(size).count)
            }
            return [out]
        }
    }

    // MARK: Running

    private func value(_ o: Operand, _ inputs: [Tensor]) -> Tensor {
        switch o {
        case .input(let i): return inputs[i]
        case .constant(let t): return t
        }
    }

    func forward(_ inputs: [Tensor]) throws -> [Tensor] {
        let outShape = try outputShapes(inputs.map { $0.shape })[0]
        switch kind {
        case .binary(let f, let a, let b):
            return [try broadcastBinary(value(a, inputs), value(b, inputs), f)]
        case .unary(let f, let a):
            var t = value(a, inputs)
            try f.apply(&t)
            return [t]
        case .map(let f, let a):
            var t = value(a, inputs)
            t.data.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] = f(p[i]) } }
            return [t]
        case .reduce(let r, let axes, _):
            let x = inputs[0]
            let red = try reducedAxes(axes, rank: x.rank)
            let keptShape = x.shape.enumerated().map { red.contains($0.offset) ? 1 : $0.element }
            var acc = Tensor(shape: keptShape, repeating: r == .max ? -.infinity : (r == .min ? .infinity : 0))
            let outStrides = rowMajorStrides(keptShape).enumerated().map { red.contains($0.offset) ? 0 : $0.element }
            var index = [Int](repeating: 0, count: x.rank)
            var dst = 0
            for i in 0..<x.count {
                let v = x.data[i]
                switch r {
                case .sum, .mean: acc.data[dst] += v
                case .max: if v > acc.data[dst] || v.isNaN { acc.data[dst] = v }
                case .min: if v < acc.data[dst] || v.isNaN { acc.data[dst] = v }
                }
                var d = x.rank - 1
                while d >= 0 {
                    index[d] += 1
                    dst += outStrides[d]
                    if index[d] < x.shape[d] { break }
                    dst -= outStrides[d] * x.shape[d]
                    index[d] = 0
                    d -= 1
                }
            }
            if r == .mean {
                let n = Float(x.count / max(acc.count, 1))
                for i in acc.data.indices { acc.data[i] /= n }
            }
            return [Tensor(shape: outShape, data: acc.data)]
        case .reshape, .expandDims, .squeeze:
            return [Tensor(shape: outShape, data: inputs[0].data)]
        case .transpose(let perm):
            return [transpose(inputs[0], perm: perm ?? Array((0..<inputs[0].rank).reversed()))]
        case .concatenate(let axis, let ts):
            return try Concatenate(name: name, axis: axis).forward(ts.map { inputs[$0] })
        case .slice(let spec):
            let x = inputs[0]
            let picks = try x.shape.enumerated().map { d, size in d < spec.count ? try spec[d].positions(size) : Array(0..<size) }
            let strides = rowMajorStrides(x.shape)
            var y = Tensor(shape: outShape, data: [])
            y.data.reserveCapacity(picks.reduce(1) { $0 * $1.count })
            func gather(_ d: Int, _ offset: Int) {
                if d == picks.count { y.data.append(x.data[offset]); return }
                for p in picks[d] { gather(d + 1, offset + p * strides[d]) }
            }
            gather(0, 0)
            return [y]
        }
    }
}
