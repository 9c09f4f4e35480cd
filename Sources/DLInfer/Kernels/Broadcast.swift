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

/// z = f(x, y) elementwise with broadcasting; fast path for equal shapes.
func broadcastBinary(_ x: Tensor, _ y: Tensor, _ f: (Float, Float) -> Float) throws -> Tensor {
    if x.shape == y.shape {
        var z = x
        z.data.withUnsafeMutableBufferPointer { zp in
            y.data.withUnsafeBufferPointer { yp in
                for i in zp.indices { zp[i] = f(zp[i], yp[i]) }
            }
        }
        return z
    }
    guard let shape = broadcastShape(x.shape, y.shape) else {
        throw DLError.shape("shapes \(x.shape.described) and \(y.shape.described) do not broadcast")
    }
    let r = shape.count
    func strides(_ s: Shape) -> [Int] {
        let padded = [Int](repeating: 1, count: r - s.count) + s
        let st = rowMajorStrides(padded)
        return zip(padded, st).map { $0 == 1 ? 0 : $1 }
    }
    let sx = strides(x.shape), sy = strides(y.shape)
    var z = Tensor(zeros: shape)
    var index = [Int](repeating: 0, count: r)
    var ix = 0, iy = 0
    for i in 0..<z.count {
        z.data[i] = f(x.data[ix], y.data[iy])
        var d = r - 1
        while d >= 0 {
            index[d] += 1
            ix += sx[d]; iy += sy[d]
            if index[d] < shape[d] { break }
            ix -= sx[d] * shape[d]; iy -= sy[d] * shape[d]
            index[d] = 0
            d -= 1
        }
    }
    return z
}
