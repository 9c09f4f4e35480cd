/// y = x * scale[c] + shift[c] where c indexes one axis (scale/shift of length 1 broadcast).
func axisAffine(_ t: inout Tensor, axis: Int, scale: [Float], shift: [Float]) {
    let n = t.shape[axis]
    let inner = t.shape[(axis + 1)...].reduce(1, *)
    let outer = t.shape[..<axis].reduce(1, *)
    let perChannel = scale.count > 1
    t.data.withUnsafeMutableBufferPointer { p in
        var i = 0
        for _ in 0..<outer {
            for c in 0..<n {
                let s = perChannel ? scale[c] : scale[0], b = perChannel ? shift[c] : shift[0]
                for _ in 0..<inner {
                    p[i] = p[i] * s + b
                    i += 1
                }
            }
        }
    }
}
