/// The store-side epilogue of GEMM-shaped ops over a row-major [rows, cols] output with row
/// stride `ldc`: out = act(out + bias[col] + residual), one pass, the activation's switch
/// outside the loop.
struct EpilogueArgs {
    var bias: UnsafePointer<Float>?
    var residual: UnsafePointer<Float>?   // same layout as the output
    var activation: Activation

    var isEmpty: Bool { bias == nil && residual == nil && activation == .linear }
}

private struct EpilogueLoop: ActivationVisitor {
    let out: UnsafeMutablePointer<Float>, rows: Int, cols: Int, ldc: Int, args: EpilogueArgs

    @inline(__always) func visit<F: ScalarFunction>(_ f: F) {
        switch (args.bias, args.residual) {
        case (let b?, let r?):
            for row in 0..<rows {
                let o = out + row * ldc, rr = r + row * ldc
                for j in 0..<cols { o[j] = f(o[j] + b[j] + rr[j]) }
            }
        case (let b?, nil):
            for row in 0..<rows {
                let o = out + row * ldc
                for j in 0..<cols { o[j] = f(o[j] + b[j]) }
            }
        case (nil, let r?):
            for row in 0..<rows {
                let o = out + row * ldc, rr = r + row * ldc
                for j in 0..<cols { o[j] = f(o[j] + rr[j]) }
            }
        case (nil, nil):
            for row in 0..<rows {
                let o = out + row * ldc
                for j in 0..<cols { o[j] = f(o[j]) }
            }
        }
    }
}

/// Sigmoid, tanh, swish, gelu and exponential run as a pass adding bias and residual, then the
/// vector kernel of `math` over each row (the op's tier's `vectorMath`; nil keeps the fused
/// scalar loop).
func applyEpilogue(_ args: EpilogueArgs, _ out: UnsafeMutablePointer<Float>, rows: Int, cols: Int, ldc: Int,
                   math: MathKernels?) {
    if args.isEmpty { return }
    if let kernel = math?.kernel(for: args.activation) {
        let loop = EpilogueLoop(out: out, rows: rows, cols: cols, ldc: ldc, args: args)
        if args.bias != nil || args.residual != nil { loop.visit(IdentityFn()) }
        if ldc == cols {
            kernel(out, out, rows * cols)
        } else {
            for row in 0..<rows { kernel(out + row * ldc, out + row * ldc, cols) }
        }
        return
    }
    dispatch(args.activation, EpilogueLoop(out: out, rows: rows, cols: cols, ldc: ldc, args: args))
}
