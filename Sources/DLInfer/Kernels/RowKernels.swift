import Glibc

// The portable tier's softmax and LayerNorm row kernels (MathKernels in KernelTable.swift): the
// reference loops the vector tiers' kernels (Math*.swift) are tested against.

func scalarRowMax(_ src: UnsafePointer<Float>, _ count: Int) -> Float {
    var m = -Float.infinity
    for k in 0..<count { m = Swift.max(m, src[k]) }
    return m
}

func scalarExpShiftSum(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>?, _ count: Int, _ shift: Float) -> Float {
    var sum: Float = 0
    for k in 0..<count {
        let e = expf(src[k] - shift)
        dst?[k] = e
        sum += e
    }
    return sum
}

func scalarDivideBy(_ p: UnsafeMutablePointer<Float>, _ count: Int, _ d: Float) {
    for k in 0..<count { p[k] /= d }
}

func scalarSubtractTwice(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ count: Int, _ a: Float, _ b: Float) {
    for k in 0..<count { dst[k] = src[k] - a - b }
}

/// Mean and biased variance in Double, two passes.
func scalarMeanVariance(_ src: UnsafePointer<Float>, _ count: Int) -> (mean: Double, variance: Double) {
    var mean: Double = 0
    for i in 0..<count { mean += Double(src[i]) }
    mean /= Double(count)
    var variance: Double = 0
    for i in 0..<count { let d = Double(src[i]) - mean; variance += d * d }
    variance /= Double(count)
    return (mean, variance)
}

func scalarNormalize(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ count: Int, _ mean: Float, _ scale: Float,
                     _ gamma: UnsafePointer<Float>?, _ beta: UnsafePointer<Float>?) {
    for i in 0..<count {
        var v = (src[i] - mean) * scale
        if let gamma { v *= gamma[i] }
        if let beta { v += beta[i] }
        dst[i] = v
    }
}
