/// Output shapes of an op from its input shapes. Dimensions may be -1 (unknown) when the graph
/// is built; at plan time every dimension is known and every check is exact, including those
/// against the weights.
func inferShapes(_ op: Op, _ ins: [Shape], _ constants: [[Int]]) throws -> [Shape] {
    func one() throws -> Shape {
        guard ins.count >= 1 else { throw DLError.shape("expects an input, got none") }
        return ins[0]
    }
    switch op {
    case .conv(let p):
        let w = constants[p.weights]
        let (n, h, wd, c) = try nhwc(try one(), rank: p.window.rank)
        guard dimsAgree(c, w[2] * p.groups) else {
            throw DLError.shape("input has \(c) channels, the kernel expects \(w[2] * p.groups)")
        }
        let (gh, gw) = try p.window.geometry(h: h, w: wd)
        let out = nhwcShape(n, gh.output, gw.output, w[3], rank: p.window.rank)
        if let s = p.shortcut {
            let ws = constants[s.weights]
            guard ins.count == 2, ins[1].count == 4, p.window.rank == 2, ws[3] == w[3] else {
                throw DLError(.internal, "conv with a shortcut takes two NHWC inputs and matching weights")
            }
            let (sn, sh, sw, sc) = try nhwc(ins[1], rank: 2)
            let rows = sh < 0 ? -1 : (sh + s.sh - 1) / s.sh, cols = sw < 0 ? -1 : (sw + s.sw - 1) / s.sw
            guard dimsAgree(sn, n), dimsAgree(rows, gh.output), dimsAgree(cols, gw.output), dimsAgree(sc, ws[2]) else {
                throw DLError.shape("shortcut input \(ins[1].described) does not give the conv's output \(out.described)")
            }
            return [out]
        }
        return [try residualChecked(out, p.epilogue, ins)]
    case .depthwise(let p):
        let w = constants[p.weights]
        let (n, h, wd, c) = try nhwc(try one(), rank: p.window.rank)
        guard dimsAgree(c, w[2]) else { throw DLError.shape("input has \(c) channels, the kernel expects \(w[2])") }
        let (gh, gw) = try p.window.geometry(h: h, w: wd)
        return [try residualChecked(nhwcShape(n, gh.output, gw.output, w[2] * w[3], rank: p.window.rank), p.epilogue, ins)]
    case .depthwiseChain(let p):
        var x = try one()
        if let e = p.expand { x = try inferShapes(.conv(e), [x], constants)[0] }
        x = try inferShapes(.depthwise(p.depthwise), [x], constants)[0]
        if let pr = p.project {
            guard ins.count == (pr.epilogue.residual ? 2 : 1) else { throw DLError(.internal, "depthwise chain with \(ins.count) inputs") }
            x = try inferShapes(.conv(pr), pr.epilogue.residual ? [x, ins[1]] : [x], constants)[0]
        }
        return [x]
    case .transposedConv(let p):
        let w = constants[p.weights]
        let (n, h, wd, c) = try nhwc(try one(), rank: p.window.rank)
        guard dimsAgree(c, w[3]) else { throw DLError.shape("input has \(c) channels, the kernel expects \(w[3])") }
        let (ah, aw) = try p.axes(h: h, w: wd)
        return [nhwcShape(n, ah.length, aw.length, w[2], rank: p.window.rank)]
    case .dense(let p):
        let w = constants[p.weights]
        let x = try one()
        try requireRank(x, atLeast: 2)
        guard dimsAgree(x.last!, w[0]) else { throw DLError.shape("input shape \(x.described) does not fit kernel \(w.described)") }
        return [try residualChecked(x.dropLast() + [w[1]], p.epilogue, ins)]
    case .affine(let p):
        let x = try one()
        let a = try normalizeAxis(p.axis, rank: x.count)
        guard a > 0 || x.count == 1 else { throw DLError.shape("cannot normalise over the batch axis") }
        let n = constants[p.scale].reduce(1, *)
        guard n == 1 || dimsAgree(x[a], n) else {
            throw DLError.shape("axis \(p.axis) of input \(x.described) has \(x[a]) entries, the weights have \(n)")
        }
        return [x]
    case .unary, .identity, .castToFloat:
        return [try one()]
    case .binary:
        guard ins.count == 2 else { throw DLError.shape("expects 2 inputs, got \(ins.count)") }
        guard let s = broadcastShape(ins[0], ins[1]) else {
            throw DLError.shape("shapes \(ins[0].described) and \(ins[1].described) do not broadcast")
        }
        return [s]
    case .softmax(let axis, _), .sparsemax(let axis):
        let x = try one()
        _ = try normalizeAxis(axis, rank: x.count)
        return [x]
    case .glu(let axis):
        let x = try one()
        let a = try normalizeAxis(axis, rank: x.count)
        guard x[a] < 0 || x[a] % 2 == 0 else { throw DLError.shape("glu needs an even size on axis \(axis), got \(x.described)") }
        var out = x
        if out[a] > 0 { out[a] /= 2 }
        return [out]
    case .pool(let p):
        let (n, h, w, c) = try nhwc(try one(), rank: p.window.rank)
        let (gh, gw) = try p.window.geometry(h: h, w: w)
        return [nhwcShape(n, gh.output, gw.output, c, rank: p.window.rank)]
    case .globalPool(_, rank: let rank, keepDims: let keep):
        let x = try one()
        try requireRank(x, rank + 2)
        return [keep ? [x[0]] + [Int](repeating: 1, count: rank) + [x.last!] : [x[0], x.last!]]
    case .reduce(_, let axes, let keep):
        let x = try one()
        let r = try reducedAxes(axes, rank: x.count)
        return [keep ? x.enumerated().map { r.contains($0.offset) ? 1 : $0.element }
                     : x.enumerated().filter { !r.contains($0.offset) }.map { $0.element }]
    case .layerNorm(let p):
        let x = try one()
        let a = try normalizedLayerNormAxes(p.axes, rank: x.count)
        let dims = a.map { x[$0] }
        if dims.allSatisfy({ $0 >= 0 }), let g = p.gamma ?? p.beta, constants[g].reduce(1, *) != (try checkedCount(dims)) {
            throw DLError.shape("normalised axes of \(x.described) hold \(try checkedCount(dims)) values, the weights \(constants[g].reduce(1, *))")
        }
        return [x]
    case .reshape(let spec):
        return [try reshaped(try one(), spec)]
    case .transpose(let perm):
        let x = try one()
        guard perm.count == x.count, Set(perm) == Set(0..<x.count) else {
            throw DLError.shape("bad transpose axes \(perm) for \(x.described)")
        }
        return [perm.map { x[$0] }]
    case .concat(let axis):
        return [try concatShape(ins, axis: axis)]
    case .slice(let spec):
        let x = try one()
        guard spec.count <= x.count else { throw DLError.shape("\(spec.count) slice entries for rank \(x.count)") }
        var out: Shape = []
        for (d, size) in x.enumerated() {
            guard d < spec.count else { out.append(size); continue }
            if spec[d].index != nil { if size >= 0 { _ = try spec[d].range(size) }; continue }
            out.append(size < 0 ? -1 : try spec[d].range(size).count)
        }
        return [out]
    case .spatial(let p):
        let (n, h, w, c) = try nhwc(try one(), rank: p.rank)
        let (oh, ow) = try p.outputSize(h: h, w: w)
        return [nhwcShape(n, oh, ow, c, rank: p.rank)]
    }
}

/// (N, H, W, C) view of a rank+2 shape; 1D data has H = 1.
func nhwc(_ s: Shape, rank: Int) throws -> (Int, Int, Int, Int) {
    try requireRank(s, rank + 2)
    return nhwcDims(s, rank: rank)
}

/// The same for a shape already checked.
func nhwcDims(_ s: [Int], rank: Int) -> (Int, Int, Int, Int) {
    rank == 1 ? (s[0], 1, s[1], s[2]) : (s[0], s[1], s[2], s[3])
}

func nhwcShape(_ n: Int, _ h: Int, _ w: Int, _ c: Int, rank: Int) -> Shape { rank == 1 ? [n, w, c] : [n, h, w, c] }

private func residualChecked(_ out: Shape, _ e: Epilogue, _ ins: [Shape]) throws -> Shape {
    guard e.residual else { return out }
    guard ins.count == 2, ins[1].count == out.count, zip(ins[1], out).allSatisfy({ dimsAgree($0, $1) }) else {
        throw DLError(.internal, "fused residual of shape \(ins.last?.described ?? "none") does not match output \(out.described)")
    }
    return out
}

func reducedAxes(_ axes: [Int]?, rank: Int) throws -> [Int] {
    guard let axes else { return Array(0..<rank) }
    return try Set(axes.map { try normalizeAxis($0, rank: rank) }).sorted()
}

func normalizedLayerNormAxes(_ axes: [Int], rank: Int) throws -> [Int] {
    let a = try Set(axes.map { try normalizeAxis($0, rank: rank) }).sorted()
    guard !a.contains(0) else { throw DLError.shape("cannot normalise over the batch axis") }
    return a
}

func concatShape(_ ins: [Shape], axis: Int) throws -> Shape {
    guard let first = ins.first else { throw DLError.shape("needs at least 1 input") }
    let a = try normalizeAxis(axis, rank: first.count)
    guard a > 0 else { throw DLError.shape("cannot concatenate along the batch axis") }
    var out = first
    for s in ins.dropFirst() {
        guard s.count == first.count else { throw DLError.shape("inputs of different ranks: \(first.described) and \(s.described)") }
        for d in 0..<s.count where d != a {
            guard dimsAgree(s[d], out[d]) else { throw DLError.shape("shapes \(first.described) and \(s.described) differ off the concatenation axis") }
            if out[d] < 0 { out[d] = s[d] }
        }
        out[a] = out[a] < 0 || s[a] < 0 ? -1 : try checkedAdd(out[a], s[a])
    }
    return out
}

/// Resolves a reshape; with unknown input dims the result may hold -1.
func reshaped(_ x: Shape, _ spec: ReshapeSpec) throws -> Shape {
    func resolve(_ target: [Int], total: Int?) throws -> [Int] {
        guard target.filter({ $0 == -1 }).count <= 1, target.allSatisfy({ $0 >= -1 }) else {
            throw DLError.shape("bad reshape target \(target.described)")
        }
        guard let total else { return target }
        let fixed = try checkedCount(target.filter { $0 != -1 })
        var out = target
        if let free = target.firstIndex(of: -1) {
            guard fixed > 0, total % fixed == 0 else { throw DLError.shape("cannot reshape \(x.described) to \(target.described)") }
            out[free] = total / fixed
        } else if fixed != total {
            throw DLError.shape("cannot reshape \(x.described) to \(target.described)")
        }
        return out
    }
    switch spec {
    case .flatten:
        try requireRank(x, atLeast: 1)
        let rest = Array(x.dropFirst())
        return [x[0], rest.allSatisfy { $0 >= 0 } ? try checkedCount(rest) : -1]
    case .keepBatch(let target):
        try requireRank(x, atLeast: 1)
        let rest = Array(x.dropFirst())
        return [x[0]] + (try resolve(target, total: rest.allSatisfy { $0 >= 0 } ? try checkedCount(rest) : nil))
    case .full(let target):
        return try resolve(target, total: x.allSatisfy { $0 >= 0 } ? try checkedCount(x) : nil)
    case .expandDims(let axes):
        var s = x
        let rank = s.count + axes.count
        for a in try axes.map({ try normalizeAxis($0, rank: rank) }).sorted() { s.insert(1, at: a) }
        return s
    case .squeeze(let axes):
        let drop = try axes.map { try $0.map { try normalizeAxis($0, rank: x.count) } } ?? x.indices.filter { x[$0] == 1 }
        for a in drop where x[a] != 1 && x[a] >= 0 { throw DLError.shape("cannot squeeze axis \(a) of \(x.described)") }
        return x.enumerated().filter { !drop.contains($0.offset) }.map { $0.element }
    }
}

extension Window {
    private var pads: (Int, Int, Int, Int) {
        if case .explicit(let t, let b, let l, let r) = padding { return (t, b, l, r) }
        return (0, 0, 0, 0)
    }

    /// Per-axis geometry for input height/width (-1 unknown); rank-1 windows have height 1.
    /// Checks the sizes involved, so the unchecked form below is safe afterwards.
    func geometry(h: Int, w: Int) throws -> (AxisGeometry, AxisGeometry) {
        let (pt, pb, pl, pr) = pads
        _ = try checkedMul(kh, dh); _ = try checkedMul(kw, dw)
        _ = try checkedAdd(h, try checkedAdd(pt, pb)); _ = try checkedAdd(w, try checkedAdd(pl, pr))
        return runGeometry(h: h, w: w)
    }

    /// The same for shapes `geometry` has accepted (used at run time, never fails).
    func runGeometry(h: Int, w: Int) -> (AxisGeometry, AxisGeometry) {
        let (pt, pb, pl, pr) = pads
        let vertical: PaddingSpec = rank == 1 ? .valid : padding
        return (AxisGeometry.make(input: h, kernel: kh, stride: sh, dilation: dh, padding: vertical, explicit: (pt, pb)),
                AxisGeometry.make(input: w, kernel: kw, stride: sw, dilation: dw, padding: padding, explicit: (pl, pr)))
    }
}

extension TransposedConvParams {
    /// Keras' deconv_output_length and the padding TensorFlow then places before the data.
    func axes(h: Int, w: Int) throws -> ((length: Int, padBefore: Int), (length: Int, padBefore: Int)) {
        let same = window.padding == .same
        func axis(_ input: Int, _ k: Int, _ s: Int, _ d: Int, _ op: Int?) throws -> (length: Int, padBefore: Int) {
            guard input >= 0 else { return (-1, 0) }
            let eff = (k - 1) * d + 1
            let length: Int
            if let op {
                let pad = same ? eff / 2 : 0
                length = try checkedAdd(try checkedMul(input - 1, s), eff - 2 * pad + op)
            } else {
                length = same ? try checkedMul(input, s) : try checkedAdd(try checkedMul(input, s), max(eff - s, 0))
            }
            guard length > 0 else { throw DLError.shape("input size \(input) gives an empty output") }
            let padBefore = same ? max((input - 1) * s + eff - length, 0) / 2 : 0
            return (length, padBefore)
        }
        let ah = window.rank == 1 ? (h, 0) : try axis(h, window.kh, window.sh, window.dh, outputPadding?.h)
        let aw = try axis(w, window.kw, window.sw, window.dw, outputPadding?.w)
        return (ah, aw)
    }
}

extension SpatialParams {
    func outputSize(h: Int, w: Int) throws -> (Int, Int) {
        func k(_ v: Int, _ f: (Int) throws -> Int) rethrows -> Int { v < 0 ? -1 : try f(v) }
        switch kind {
        case .pad(let t, let b, let l, let r):
            return (try k(h) { try checkedAdd($0, try checkedAdd(t, b)) }, try k(w) { try checkedAdd($0, try checkedAdd(l, r)) })
        case .crop(let t, let b, let l, let r):
            let oh = k(h) { $0 - t - b }, ow = k(w) { $0 - l - r }
            guard (h < 0 || oh > 0) && (w < 0 || ow > 0) else { throw DLError.shape("cropping removes the whole input") }
            return (oh, ow)
        case .upsampleNearest(let sh, let sw), .upsampleBilinear(let sh, let sw):
            return (try k(h) { try checkedMul($0, sh) }, try k(w) { try checkedMul($0, sw) })
        }
    }
}

/// Numpy-style broadcast of two shapes (nil if incompatible); -1 (unknown) broadcasts as unknown.
func broadcastShape(_ a: Shape, _ b: Shape) -> Shape? {
    let r = max(a.count, b.count)
    let pa = [Int](repeating: 1, count: r - a.count) + a, pb = [Int](repeating: 1, count: r - b.count) + b
    var out: Shape = []
    for (x, y) in zip(pa, pb) {
        if x == y { out.append(x) }
        else if x == 1 { out.append(y) }
        else if y == 1 { out.append(x) }
        else if x < 0 || y < 0 { out.append(max(x, y)) }
        else { return nil }
    }
    return out
}
