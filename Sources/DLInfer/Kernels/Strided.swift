/// Loops over strided index spaces (broadcasting, transposes, slices, reductions) with their
/// counters on the stack: nothing here allocates.

/// Calls body(outerIndex, srcOffset) for every row of the innermost axis of `shape`, where the
/// source offset advances by `strides` (one per axis) as the index advances row-major.
@inline(__always)
func forEachRow(shape: UnsafeBufferPointer<Int>, strides: UnsafeBufferPointer<Int>, strides2: UnsafeBufferPointer<Int>? = nil,
                _ body: (Int, Int, Int) -> Void) {
    let r = shape.count
    if r == 0 { body(0, 0, 0); return }
    var rows = 1
    for d in 0..<(r - 1) { rows *= shape[d] }
    if rows == 0 || shape[r - 1] == 0 { return }
    withUnsafeTemporaryAllocation(of: Int.self, capacity: r) { idx in
        for d in 0..<r { idx[d] = 0 }
        var off = 0, off2 = 0
        for row in 0..<rows {
            body(row, off, off2)
            var d = r - 2
            while d >= 0 {
                idx[d] += 1
                off += strides[d]
                if let s2 = strides2 { off2 += s2[d] }
                if idx[d] < shape[d] { break }
                off -= strides[d] * shape[d]
                if let s2 = strides2 { off2 -= s2[d] * shape[d] }
                idx[d] = 0
                d -= 1
            }
        }
    }
}

/// Row-major strides of `shape` aligned to the last `out.count` axes, 0 where the dimension is 1
/// (or missing): the strides that broadcast a tensor of `shape` over one of rank out.count.
@inline(__always)
func broadcastStrides(_ shape: [Int], into out: UnsafeMutableBufferPointer<Int>) {
    let r = out.count, pad = r - shape.count
    var s = 1
    for d in stride(from: r - 1, through: 0, by: -1) {
        let dim = d >= pad ? shape[d - pad] : 1
        out[d] = dim == 1 ? 0 : s
        s *= dim
    }
}

/// dst = transpose(src) with dst axis d taken from src axis perm[d].
func transposeKernel<S: Collection, P: Collection>(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, shape: S, perm: P)
    where S.Element == Int, S.Index == Int, P.Element == Int, P.Index == Int {
    let shape = UnsafeCollectionIndexer(shape), perm = UnsafeCollectionIndexer(perm)
    let r = shape.count
    guard r > 0 else { dst[0] = src[0]; return }
    withUnsafeTemporaryAllocation(of: Int.self, capacity: 3 * r) { buf in
        let inStrides = UnsafeMutableBufferPointer(rebasing: buf[0..<r])
        let outShape = UnsafeMutableBufferPointer(rebasing: buf[r..<(2 * r)])
        let srcStrides = UnsafeMutableBufferPointer(rebasing: buf[(2 * r)..<(3 * r)])
        var s = 1
        for d in stride(from: r - 1, through: 0, by: -1) { inStrides[d] = s; s *= shape[d] }
        for d in 0..<r { outShape[d] = shape[perm[d]]; srcStrides[d] = inStrides[perm[d]] }
        let inner = outShape[r - 1], step = srcStrides[r - 1]
        forEachRow(shape: UnsafeBufferPointer(outShape), strides: UnsafeBufferPointer(srcStrides)) { row, off, _ in
            let o = dst + row * inner, p = src + off
            for j in 0..<inner { o[j] = p[j * step] }
        }
    }
}

/// Zero-based indexing into an Array, ArraySlice or buffer without copying it.
struct UnsafeCollectionIndexer<C: Collection> where C.Index == Int {
    let base: C
    init(_ base: C) { self.base = base }
    var count: Int { base.count }
    subscript(i: Int) -> C.Element { base[base.startIndex + i] }
}
