import CBLAS

/// OpenBLAS runs single-threaded inside dlinfer: its threaded GEMM allocates on every call
/// (which a planned run must not) and its threads would oversubscribe the cores when several
/// sessions run at once. Parallelism is the sessions' business. Set once, before the first GEMM.
let pinOpenBLASToOneThread: Void = openblas_set_num_threads(1)

/// Row-major single-precision GEMM through OpenBLAS:
/// C[m, n] = A[m, k] · B[k, n] (+ beta·C), with optional transposes and leading dimensions.
@inline(__always)
func sgemm(m: Int, n: Int, k: Int,
           a: UnsafePointer<Float>, lda: Int, transA: Bool = false,
           b: UnsafePointer<Float>, ldb: Int, transB: Bool = false,
           c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float = 0) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        if beta == 0 { for i in 0..<m { (c + i * ldc).update(repeating: 0, count: n) } }
        return
    }
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                blasint(m), blasint(n), blasint(k), 1, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
}

/// Adds a per-column bias to every row of a row-major [rows, cols] matrix.
@inline(__always)
func addBias(_ out: UnsafeMutablePointer<Float>, rows: Int, cols: Int, bias: UnsafePointer<Float>) {
    for r in 0..<rows {
        let row = out + r * cols
        for j in 0..<cols { row[j] += bias[j] }
    }
}
