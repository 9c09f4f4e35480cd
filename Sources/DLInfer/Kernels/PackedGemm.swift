import CDLInferCPU

/// A GEMM's B operand ([k, n], row-major) packed once into the layout the tier's kernel reads:
/// panels of `panelWidth` columns, each [k][panelWidth], the last one zero-padded.
final class PackedMatrix {
    let k: Int, n: Int, panelWidth: Int
    let data: AlignedBuffer
    var panels: Int { (n + panelWidth - 1) / panelWidth }
    /// Bytes a GEMM reads when it runs over all of it (padding columns included).
    var bytes: Int { data.bytes }

    init(_ b: UnsafePointer<Float>, k: Int, n: Int, ldb: Int, panelWidth: Int) throws {
        self.k = k
        self.n = n
        self.panelWidth = panelWidth
        let panels = (n + panelWidth - 1) / panelWidth
        data = try AlignedBuffer(count: try checkedMul(try checkedMul(panels, k), panelWidth))
        for p in 0..<panels {
            let cols = min(panelWidth, n - p * panelWidth)
            let dst = data.pointer + p * k * panelWidth
            for kk in 0..<k { (dst + kk * panelWidth).update(from: b + kk * ldb + p * panelWidth, count: cols) }
        }
    }
}

/// A bias vector padded with zeros to whole panels (the kernels load it a vector at a time).
func paddedBias(_ bias: [Float], panelWidth: Int) throws -> AlignedBuffer {
    let b = try AlignedBuffer(count: (bias.count + panelWidth - 1) / panelWidth * panelWidth)
    bias.withUnsafeBufferPointer { b.pointer.update(from: $0.baseAddress!, count: bias.count) }
    return b
}

extension Activation {
    /// The activation as a register epilogue the GEMM kernels apply before storing, if it is one.
    var registerEpilogue: (code: Int32, lo: Float, hi: Float)? {
        switch self {
        case .linear: return (Int32(DL_ACT_NONE), 0, 0)
        case .relu: return (Int32(DL_ACT_RELU), 0, 0)
        case .relu6: return (Int32(DL_ACT_CLAMP), 0, 6)
        case .hardTanh: return (Int32(DL_ACT_CLAMP), -1, 1)
        case .leakyRelu(let s): return (Int32(DL_ACT_LEAKY), s, 0)
        case .reluGeneral(let m, 0, 0):
            guard let m else { return (Int32(DL_ACT_RELU), 0, 0) }
            return m > 0 ? (Int32(DL_ACT_CLAMP), 0, m) : nil
        default: return nil
        }
    }
}

extension dl_epilogue {
    /// The epilogue a kernel applies in registers: bias, residual and the activation if it is one
    /// of the register kinds (the caller applies any other activation afterwards).
    /// `inCache`: A, the output and the residual are already in cache (DL_EPI_IN_CACHE).
    init(bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, ldResidual: Int, registerPartOf activation: Activation,
         inCache: Bool = false) {
        let register = activation.registerEpilogue
        self.init(bias: bias, residual: residual, ld_residual: ldResidual, activation: register?.code ?? Int32(DL_ACT_NONE),
                  lo: register?.lo ?? 0, hi: register?.hi ?? 0, flags: inCache ? Int32(DL_EPI_IN_CACHE) : 0)
    }
}

extension KernelTable {
    /// c[m, n] = act(a[m, k] * b + bias + residual): the kernel applies what it can in registers
    /// and the rest (other activations) runs as one pass over the rows just written.
    /// Rows `rows` and the columns of B panels `panels` of the product (all by default). `m` is
    /// the whole product's row count and picks the kernels (one row: the GEMV kernels), so every
    /// piece of one product, on any thread, must pass the same `m` (results are bit-identical
    /// across thread counts only then). `inCache`: a, c and the residual are already in cache (a
    /// band in a thread's scratch), so only B is fetched ahead.
    func gemm(m: Int, a: UnsafePointer<Float>, lda: Int, b: PackedMatrix, c: UnsafeMutablePointer<Float>, ldc: Int,
              bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, activation: Activation, rows: Range<Int>? = nil,
              panels: Range<Int>? = nil, inCache: Bool = false) {
        let rows = rows ?? 0..<m
        let panels = panels ?? 0..<b.panels
        if rows.isEmpty || panels.isEmpty || b.n == 0 { return }
        let col0 = panels.lowerBound * b.panelWidth, cols = min(b.n, panels.upperBound * b.panelWidth) - col0
        if b.k == 0 {
            let first = c + rows.lowerBound * ldc + col0
            for i in rows { (c + i * ldc + col0).update(repeating: 0, count: cols) }
            applyEpilogue(EpilogueArgs(bias: bias.map { $0 + col0 }, residual: residual.map { $0 + rows.lowerBound * ldc + col0 },
                                       activation: activation), first, rows: rows.count, cols: cols, ldc: ldc, math: vectorMath)
            return
        }
        withEpilogue(bias: bias, residual: residual, activation: activation, c: c, ldc: ldc, rows: rows, col0: col0, cols: cols,
                     inCache: inCache) {
            sgemm(m, b.n, b.k, a, lda, b.data.pointer, c, ldc, $0, rows.lowerBound, rows.upperBound, panels.lowerBound, panels.upperBound)
        }
    }

    /// Runs a GEMM-shaped kernel with the epilogue's register part (bias, residual, ReLU-family
    /// activation), then applies any other activation to the block it wrote: rows `rows`,
    /// columns [col0, col0 + cols) of c.
    private func withEpilogue(bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, activation: Activation,
                              c: UnsafeMutablePointer<Float>, ldc: Int, rows: Range<Int>, col0: Int, cols: Int,
                              inCache: Bool = false, _ kernel: (UnsafePointer<dl_epilogue>) -> Void) {
        var e = dl_epilogue(bias: bias, residual: residual, ldResidual: ldc, registerPartOf: activation, inCache: inCache)
        withUnsafePointer(to: &e) { kernel($0) }
        if activation.registerEpilogue == nil {
            applyEpilogue(EpilogueArgs(bias: nil, residual: nil, activation: activation), c + rows.lowerBound * ldc + col0,
                          rows: rows.count, cols: cols, ldc: ldc, math: vectorMath)
        }
    }

    /// One image's convolution as an indirect GEMM (see `ConvGemmKernel`): rows `rows` (output
    /// pixels) of c = act(conv + bias + residual), every column.
    func convGemm(table: UnsafePointer<UnsafePointer<Float>>, taps: Int, cin: Int, b: PackedMatrix, c: UnsafeMutablePointer<Float>,
                  ldc: Int, bias: UnsafePointer<Float>?, residual: UnsafePointer<Float>?, activation: Activation, rows: Range<Int>,
                  panels: Range<Int>? = nil) {
        let panels = panels ?? 0..<b.panels
        if rows.isEmpty || panels.isEmpty || b.n == 0 { return }
        let col0 = panels.lowerBound * b.panelWidth, cols = min(b.n, panels.upperBound * b.panelWidth) - col0
        withEpilogue(bias: bias, residual: residual, activation: activation, c: c, ldc: ldc, rows: rows, col0: col0, cols: cols) {
            convGemm(table, taps, cin, b.n, b.data.pointer, c, ldc, $0, rows.lowerBound, rows.upperBound, panels.lowerBound, panels.upperBound)
        }
    }
}

/// The portable tier's panel width.
let scalarPanelWidth = 16

/// The portable tier: plain loops over the same packed layout (and the same epilogue).
func scalarSgemm(_ m: Int, _ n: Int, _ k: Int, _ a: UnsafePointer<Float>, _ lda: Int, _ packedB: UnsafePointer<Float>,
                 _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ epilogue: UnsafePointer<dl_epilogue>,
                 _ rowBegin: Int, _ rowEnd: Int, _ panelBegin: Int, _ panelEnd: Int) {
    let w = scalarPanelWidth, e = epilogue.pointee
    withUnsafeTemporaryAllocation(of: Float.self, capacity: w) { acc in
        for i in rowBegin..<rowEnd {
            let ai = a + i * lda
            for p in panelBegin..<panelEnd {
                let col0 = p * w, cols = min(w, n - col0), bp = packedB + p * k * w
                for j in 0..<w { acc[j] = 0 }
                for kk in 0..<k {
                    let s = ai[kk], row = bp + kk * w
                    for j in 0..<w { acc[j] += s * row[j] }
                }
                let out = c + i * ldc + col0
                for j in 0..<cols { out[j] = e.finish(acc[j], row: i, col: col0 + j) }
            }
        }
    }
}

/// The portable tier's indirect convolution: the scalar GEMM's loops with A's row gathered per tap.
func scalarConvGemm(_ table: UnsafePointer<UnsafePointer<Float>>, _ taps: Int, _ cin: Int, _ n: Int,
                    _ packedB: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, _ ldc: Int,
                    _ epilogue: UnsafePointer<dl_epilogue>, _ rowBegin: Int, _ rowEnd: Int, _ panelBegin: Int, _ panelEnd: Int) {
    let w = scalarPanelWidth, e = epilogue.pointee, k = taps * cin
    withUnsafeTemporaryAllocation(of: Float.self, capacity: w) { acc in
        for i in rowBegin..<rowEnd {
            for p in panelBegin..<panelEnd {
                let col0 = p * w, cols = min(w, n - col0)
                var row = packedB + p * k * w
                for j in 0..<w { acc[j] = 0 }
                for t in 0..<taps {
                    let a = table[i * taps + t]
                    for kk in 0..<cin {
                        let s = a[kk]
                        for j in 0..<w { acc[j] += s * row[j] }
                        row += w
                    }
                }
                let out = c + i * ldc + col0
                for j in 0..<cols { out[j] = e.finish(acc[j], row: i, col: col0 + j) }
            }
        }
    }
}

/// Splits `rows` rows into pieces for `threads` threads, each a multiple of `align` rows and
/// at least `minimumRows` and 1/(8 x threads) of them: pieces shrink as they go (each about the
/// remaining rows / (2 x threads)), so a thread that runs slower (its core shared with another
/// tenant) takes fewer pieces and the last ones it holds up the others for are small. Pieces are
/// claimed in index order (ThreadPool hands them out one at a time).
struct RowSplit {
    let count: Int
    private let rows: Int, threads: Int, align: Int, smallest: Int

    init(rows: Int, threads: Int, align: Int = 6, minimumRows: Int = 24) {
        let threads = max(1, threads), align = max(1, align)
        self.rows = max(0, rows)
        self.threads = threads
        self.align = align
        let eighthShare = (self.rows + 8 * threads - 1) / (8 * threads)
        smallest = threads == 1 ? max(1, self.rows) : (max(minimumRows, eighthShare, 1) + align - 1) / align * align
        var pieces = 0, start = 0
        while start < self.rows {
            start += Self.piece(remaining: self.rows - start, threads: threads, align: align, smallest: smallest)
            pieces += 1
        }
        count = pieces
    }

    private static func piece(remaining: Int, threads: Int, align: Int, smallest: Int) -> Int {
        let share = (remaining + 2 * threads - 1) / (2 * threads)
        return min(remaining, max(smallest, (share + align - 1) / align * align))
    }

    func range(_ i: Int) -> Range<Int> {
        var start = 0
        for _ in 0..<i { start += Self.piece(remaining: rows - start, threads: threads, align: align, smallest: smallest) }
        return start..<(start + Self.piece(remaining: rows - start, threads: threads, align: align, smallest: smallest))
    }
}

extension dl_epilogue {
    /// The epilogue of one element, as the vector kernels apply it: + bias, + residual, activation.
    @inline(__always)
    func finish(_ x: Float, row: Int, col: Int) -> Float {
        var v = x
        if let b = bias { v += b[col] }
        if let r = residual { v += r[row * ld_residual + col] }
        switch activation {
        case Int32(DL_ACT_RELU): if v < 0 { v = 0 }
        case Int32(DL_ACT_CLAMP): if v < lo { v = lo } else if v > hi { v = hi }
        case Int32(DL_ACT_LEAKY): if v < 0 { v *= lo }
        default: break
        }
        return v
    }
}

/// How one GEMM is cut into pieces for the threads: by rows when B is up to 2 MB (each piece
/// reads all of B, which the threads stream together, and only its rows of A), by B's column
/// panels when B is larger (each piece reads only its panels) or rows are few (under 8 tiles
/// per thread, as in late convolutions and dense layers). ResNet50's conv4 1x1 layers (1 MB of
/// B, 196 rows) went 0.41 -> 0.34 ms each by rows at 2 threads (per-op minimums, interleaved).
/// Panel pieces are at least 1/(2 x threads) of the panels (two per thread when the threads keep
/// pace): down to single panels, MobileNetV2's 1280-column 1x1 over 49 rows took 0.150 ms at 2
/// threads against 0.135 ms, ResNet50's conv5 1x1s 0.36-0.38 against 0.35 ms.
struct GemmSplit {
    let byPanels: Bool
    let pieces: RowSplit
    let m: Int, panels: Int

    init(m: Int, b: PackedMatrix, threads: Int) {
        self.m = m
        panels = b.panels
        byPanels = threads > 1 && b.panels >= threads && (b.k * b.n > 1 << 19 || m < threads * 48)
        pieces = byPanels ? RowSplit(rows: b.panels, threads: threads, align: 1, minimumRows: (b.panels + 2 * threads - 1) / (2 * threads))
                          : RowSplit(rows: m, threads: threads)
    }

    var count: Int { pieces.count }

    func ranges(_ piece: Int) -> (rows: Range<Int>, panels: Range<Int>) {
        byPanels ? (0..<m, pieces.range(piece)) : (pieces.range(piece), 0..<panels)
    }
}
