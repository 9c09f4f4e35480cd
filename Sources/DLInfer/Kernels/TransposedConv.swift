/// A transposed convolution by stride phases (sub-pixel decomposition): along an axis with
/// stride s, the outputs o ≡ r (mod s) are reached only by the kernel taps k with
/// (r + padBefore - k·dilation) ≡ 0 (mod s), and output r + s·j reads input j + offset(k) under
/// each of them. So each of the sh·sw phases is an ordinary stride-1 convolution of the input
/// with the sub-kernel of its taps (packed at load), and runs as an indirect GEMM
/// (`KernelTable.convGemm`) over the phase's output pixels, bias and activation applied before
/// the store: no column matrix, no scatter-add, no separate epilogue pass. A phase no tap
/// reaches (stride larger than the kernel) is bias and activation only.
///
/// The GEMM writes one phase row at a time straight into the output (its pixels are sw pixels
/// apart: ldc = sw·cout). The kernel computes whole 6-pixel tiles, so when phase rows are short
/// and not a multiple of 6 (an 8-wide row costs 12), blocks of phase rows are computed into a
/// stage instead (contiguous, full tiles) and copied into place.
///
/// A GEMM's columns are a whole register tile wide, so with few output channels (an RGB
/// decoder's last layer) most of a phase's work would be padding. Then one GEMM per image
/// computes every tap's contribution of every input pixel, columns [h·w, kh·kw·cout] (scratch),
/// and each output pixel gathers the few it receives, with the epilogue.

/// The stride phases of one axis.
struct TransposedAxisPhases {
    let stride: Int
    /// Per phase r: the kernel taps that reach outputs r, r + stride, ... (ascending).
    let taps: [[Int]]
    /// Per phase r and tap: output r + stride·j reads input j + offsets[r][t].
    let offsets: [[Int]]

    init(kernel: Int, stride: Int, dilation: Int, padBefore: Int) {
        self.stride = stride
        var taps: [[Int]] = [], offsets: [[Int]] = []
        for r in 0..<stride {
            var t: [Int] = [], o: [Int] = []
            for k in 0..<kernel {
                let v = r + padBefore - k * dilation
                if ((v % stride) + stride) % stride == 0 {
                    t.append(k)
                    o.append(v / stride)   // exact, so truncation does not matter
                }
            }
            taps.append(t)
            offsets.append(o)
        }
        self.taps = taps
        self.offsets = offsets
    }

    /// Outputs of phase r along an axis of `output` positions.
    @inline(__always)
    func count(_ r: Int, output: Int) -> Int { r < output ? (output - r + stride - 1) / stride : 0 }
}

/// A transposed convolution's weights split by phase and packed for the tier's indirect GEMM,
/// and the code that runs it. Built once per model; `run` allocates nothing.
final class PhasedTransposedConv {
    let table: KernelTable
    let cin: Int, cout: Int
    let axisH: TransposedAxisPhases, axisW: TransposedAxisPhases
    /// Per phase rh·sw + rw: its taps' [taps·cin, cout] weight matrix ((tap in axisH.taps[rh]) ×
    /// (tap in axisW.taps[rw]), then input channel), packed; nil when no tap reaches the phase.
    let weights: [PackedMatrix?]
    let tapCounts: [Int]
    /// The few-channel form: the [cin, kh·kw·cout] matrix of all taps, packed (nil otherwise).
    let columns: PackedMatrix?
    let kh: Int, kw: Int
    /// Forces staged phase rows on or off (tests); nil: by the rule in `stagedRows`.
    let staging: Bool?
    let bias: AlignedBuffer?
    let activation: Activation
    /// cin zeros: what the indirection table points at for taps outside the input.
    let zeros: AlignedBuffer
    /// Bytes of packed weights a run reads.
    var weightBytes: Int { columns?.bytes ?? weights.reduce(0) { $0 + ($1?.bytes ?? 0) } }

    /// Whether the tier's GEMM would spend most of a phase's work on padding columns: a panel
    /// at least twice as wide as `cout`.
    static func prefersColumns(cout: Int, table: KernelTable) -> Bool { table.packWidth(cout) >= 2 * cout }

    /// `kernel` is Keras' [kh, kw, cout, cin]; `padBefore` is the padding TensorFlow places before
    /// the data on each axis (TransposedConvParams.axes). `columns` forces the few-channel form
    /// on or off, and `staging` staged phase rows (tests); by default they are `prefersColumns`
    /// and `stagedRows`' rule.
    init(kernel: UnsafePointer<Float>, kh: Int, kw: Int, cin: Int, cout: Int, stride: (h: Int, w: Int),
         dilation: (h: Int, w: Int), padBefore: (h: Int, w: Int), bias: [Float]?, activation: Activation,
         table: KernelTable, columns: Bool? = nil, staging: Bool? = nil) throws {
        self.table = table
        self.staging = staging
        self.cin = cin
        self.cout = cout
        self.kh = kh
        self.kw = kw
        self.activation = activation
        axisH = TransposedAxisPhases(kernel: kh, stride: stride.h, dilation: dilation.h, padBefore: padBefore.h)
        axisW = TransposedAxisPhases(kernel: kw, stride: stride.w, dilation: dilation.w, padBefore: padBefore.w)
        let useColumns = columns ?? Self.prefersColumns(cout: cout, table: table)
        if useColumns && cout > 0 && cin > 0 {
            // [ci][tap][co] from Keras' [tap][co][ci].
            let n = try checkedMul(try checkedMul(kh, kw), cout)
            var all = [Float](repeating: 0, count: try checkedMul(cin, n))
            for t in 0..<(kh * kw) {
                for co in 0..<cout {
                    for ci in 0..<cin { all[ci * n + t * cout + co] = kernel[(t * cout + co) * cin + ci] }
                }
            }
            self.columns = try all.withUnsafeBufferPointer {
                try PackedMatrix($0.baseAddress!, k: cin, n: n, ldb: n, panelWidth: table.packWidth(n))
            }
        } else {
            self.columns = nil
        }
        var weights: [PackedMatrix?] = [], tapCounts: [Int] = []
        for rh in 0..<stride.h {
            for rw in 0..<stride.w {
                let th = axisH.taps[rh], tw = axisW.taps[rw], taps = th.count * tw.count
                tapCounts.append(taps)
                guard taps > 0, cout > 0, self.columns == nil else { weights.append(nil); continue }
                let k = try checkedMul(taps, cin)
                var sub = [Float](repeating: 0, count: try checkedMul(k, cout))
                var row = 0
                for ky in th {
                    for kx in tw {
                        let src = kernel + (ky * kw + kx) * cout * cin
                        for ci in 0..<cin {
                            for co in 0..<cout { sub[row * cout + co] = src[co * cin + ci] }
                            row += 1
                        }
                    }
                }
                weights.append(try sub.withUnsafeBufferPointer {
                    try PackedMatrix($0.baseAddress!, k: k, n: cout, ldb: cout, panelWidth: table.packWidth(cout))
                })
            }
        }
        self.weights = weights
        self.tapCounts = tapCounts
        self.bias = try bias.map { try paddedBias($0, panelWidth: table.panelWidth) }
        zeros = try AlignedBuffer(count: cin)
    }

    /// The scratch one run needs: one image's columns; or its indirection table and, when
    /// phase rows are staged (`stagedRows`), its output in phase order.
    func scratchBytes(h: Int, w: Int, oh: Int, ow: Int) throws -> Int {
        if columns != nil {
            return try checkedMul(try checkedMul(try checkedMul(h, w), try checkedMul(try checkedMul(kh, kw), cout)), 4)
        }
        // The phases split the pixels and each has at most kh·kw taps: this bounds the table.
        _ = try checkedAdd(try checkedMul(try checkedMul(oh, ow), try checkedMul(try checkedMul(kh, kw), 8)), 64)
        let table = tableBytes(oh: oh, ow: ow)
        guard stagedRows(oh: oh, ow: ow) > 1 else { return table }
        return try checkedAdd(table, try checkedMul(try checkedMul(try checkedMul(oh, ow), cout), 4))
    }

    /// Bytes of one image's indirection table, rounded up to a cache line (the stage follows it).
    private func tableBytes(oh: Int, ow: Int) -> Int {
        var entries = 0
        for rh in 0..<axisH.stride {
            for rw in 0..<axisW.stride {
                entries += axisH.count(rh, output: oh) * axisW.count(rw, output: ow) * tapCounts[rh * axisW.stride + rw]
            }
        }
        return (entries * MemoryLayout<UnsafePointer<Float>>.stride + 63) & ~63
    }

    /// Phase rows per GEMM. A GEMM over one phase row writes straight into the output, but
    /// computes whole 6-pixel tiles: when a phase row is short and not a multiple of 6 (an 8-wide
    /// row costs 12), several rows are computed together into the stage (contiguous, so the
    /// tiles are full) and copied out, which costs less than the padding.
    func stagedRows(oh: Int, ow: Int) -> Int {
        var widest = 0
        for rw in 0..<axisW.stride { widest = max(widest, axisW.count(rw, output: ow)) }
        if widest == 0 || staging == false { return 1 }
        let padding = (widest + 5) / 6 * 6 - widest
        guard padding * Self.stagedMinWaste > widest || staging == true else { return 1 }
        return (Self.stagedTargetPixels + widest - 1) / widest
    }
    /// Staging pays once the padding exceeds a tenth of the row (measured: an 8-wide row runs
    /// 1.4x faster staged, a 16-wide one about the same either way).
    static let stagedMinWaste = 10
    /// Pixels per staged GEMM: 8 tiles.
    static let stagedTargetPixels = 48

    /// One run's state for the threads' pieces (some units each: a unit is `rowsPerUnit` whole
    /// rows of one phase, staged, or up to `chunk` consecutive pixels of one row of one phase).
    private struct Pieces {
        let conv: PhasedTransposedConv
        let x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>
        let residual: UnsafePointer<Float>?
        let table: UnsafeMutablePointer<UnsafePointer<Float>>
        /// The output in phase order (staged runs), else nil.
        let stage: UnsafeMutablePointer<Float>?
        let h: Int, w: Int, oh: Int, ow: Int
        /// Phase rows per unit (staged when more than 1), and pixels per unit of a phase row.
        let rowsPerUnit: Int, chunk: Int
        let units: Int, pieces: Int
        var image = 0
    }

    /// Units of the phases (in phase order): blocks of `rows` phase rows, each cut in chunks of
    /// `chunk` pixels.
    private func unitCount(oh: Int, ow: Int, rows: Int, chunk: Int) -> Int {
        var units = 0
        for rh in 0..<axisH.stride {
            let blocks = (axisH.count(rh, output: oh) + rows - 1) / rows
            for rw in 0..<axisW.stride { units += blocks * ((axisW.count(rw, output: ow) + chunk - 1) / chunk) }
        }
        return units
    }

    /// y[n, oh, ow, cout] = act(transposedConv(x[n, h, w, cin]) + bias + residual), with
    /// `scratch` of `scratchBytes(h:w:oh:ow:)`. Images one after the other, each split among the
    /// pool's threads.
    func run(x: UnsafePointer<Float>, n: Int, h: Int, w: Int, y: UnsafeMutablePointer<Float>, oh: Int, ow: Int,
             residual: UnsafePointer<Float>?, scratch: UnsafeMutableRawPointer?, pool: ThreadPool) {
        if let columns {
            runColumns(columns, x: x, n: n, h: h, w: w, y: y, oh: oh, ow: ow, residual: residual,
                       cols: scratch!.assumingMemoryBound(to: Float.self), pool: pool)
            return
        }
        // Units are phase rows (or blocks of them, staged), unless there are too few of them for
        // the threads (1D layers: one row per phase); then rows are cut into chunks of whole
        // 6-pixel tiles.
        var rows = 0, widest = 0
        for rh in 0..<axisH.stride { rows += axisH.count(rh, output: oh) }
        for rw in 0..<axisW.stride { widest = max(widest, axisW.count(rw, output: ow)) }
        rows *= axisW.stride
        var chunk = max(widest, 1)
        let wanted = 2 * pool.threads
        if pool.threads > 1 && rows < wanted && widest > 6 {
            let per = (widest * rows + wanted - 1) / wanted
            chunk = min(chunk, max(6, (per + 5) / 6 * 6))
        }
        // Staged blocks need the stage (planned with the shape) and no residual (the GEMM adds it
        // in output order), and are kept small enough to leave units for every thread.
        let rowsPerUnit = residual == nil ? max(1, min(stagedRows(oh: oh, ow: ow), rows / wanted)) : 1
        if rowsPerUnit > 1 { chunk = max(widest, 1) }
        let stage = rowsPerUnit > 1 ? (scratch! + tableBytes(oh: oh, ow: ow)).assumingMemoryBound(to: Float.self) : nil
        let units = unitCount(oh: oh, ow: ow, rows: rowsPerUnit, chunk: chunk)
        // Several pieces per thread: phases differ in tap count, so units differ in cost.
        let pieces = pool.threads == 1 ? min(units, 1) : min(units, pool.threads * 8)
        let pointers = (scratch ?? UnsafeMutableRawPointer(zeros.pointer)).assumingMemoryBound(to: UnsafePointer<Float>.self)
        var job = Pieces(conv: self, x: x, y: y, residual: residual, table: pointers, stage: stage, h: h, w: w, oh: oh, ow: ow,
                         rowsPerUnit: rowsPerUnit, chunk: chunk, units: units, pieces: pieces)
        for img in 0..<n {
            job.image = img
            pool.parallel(pieces, &job) { raw, piece in
                let j = raw.assumingMemoryBound(to: Pieces.self)
                j.pointee.conv.runUnits(j, (piece * j.pointee.units) / j.pointee.pieces,
                                        ((piece + 1) * j.pointee.units) / j.pointee.pieces)
            }
        }
    }

    /// Units [first, end) of one image: fills their rows of the indirection table, then runs them.
    private func runUnits(_ j: UnsafePointer<Pieces>, _ first: Int, _ end: Int) {
        let job = j.pointee
        let sh = axisH.stride, sw = axisW.stride, cin = cin, cout = cout, per = job.rowsPerUnit
        let x = job.x + job.image * job.h * job.w * cin
        let outImage = job.image * job.oh * job.ow * cout
        let y = job.y + outImage, residual = job.residual.map { $0 + outImage }
        let zeros = UnsafePointer(self.zeros.pointer), biasPointer = bias.map { UnsafePointer($0.pointer) }
        var u0 = 0, tableBase = 0, stageBase = 0
        for rh in 0..<sh {
            let countH = axisH.count(rh, output: job.oh), blocks = (countH + per - 1) / per
            for rw in 0..<sw {
                if u0 >= end { return }
                let countW = axisW.count(rw, output: job.ow)
                let chunks = (countW + job.chunk - 1) / job.chunk, units = blocks * chunks
                let phase = rh * sw + rw, taps = tapCounts[phase]
                defer {
                    u0 += units
                    tableBase += countH * countW * taps
                    stageBase += countH * countW * cout
                }
                let lo = max(first, u0), hi = min(end, u0 + units)
                if lo >= hi { continue }
                let offH = axisH.offsets[rh], offW = axisW.offsets[rw]
                let ldc = sw * cout
                for u in lo..<hi {
                    let a0 = ((u - u0) / chunks) * per, a1 = min(countH, a0 + per)
                    let b0 = ((u - u0) % chunks) * job.chunk, b1 = min(countW, b0 + job.chunk)
                    guard let b = weights[phase] else {
                        // No tap reaches this phase: bias and activation of zero.
                        for a in a0..<a1 {
                            let offset = ((rh + sh * a) * job.ow + rw + sw * b0) * cout
                            for i in 0..<(b1 - b0) { (y + offset + i * ldc).update(repeating: 0, count: cout) }
                            applyEpilogue(EpilogueArgs(bias: biasPointer, residual: residual.map { $0 + offset }, activation: activation),
                                          y + offset, rows: b1 - b0, cols: cout, ldc: ldc, math: self.table.vectorMath)
                        }
                        continue
                    }
                    // The table rows of pixels (a, b0..<b1) for a in a0..<a1: contiguous, since a
                    // block of several phase rows spans whole rows.
                    let unitTable = job.table + tableBase + (a0 * countW + b0) * taps
                    var t = unitTable
                    for a in a0..<a1 {
                        for bx in b0..<b1 {
                            for dy in offH {
                                let iy = a + dy
                                if iy < 0 || iy >= job.h {
                                    for _ in offW { t.pointee = zeros; t += 1 }
                                    continue
                                }
                                let row = x + iy * job.w * cin
                                for dx in offW {
                                    let ix = bx + dx
                                    t.pointee = ix < 0 || ix >= job.w ? zeros : row + ix * cin
                                    t += 1
                                }
                            }
                        }
                    }
                    if let stage = job.stage {
                        // Whole phase rows a0..<a1 as one GEMM into the stage, then into place.
                        let block = stage + stageBase + a0 * countW * cout
                        table.convGemm(table: unitTable, taps: taps, cin: cin, b: b, c: block, ldc: cout, bias: biasPointer,
                                       residual: nil, activation: activation, rows: 0..<((a1 - a0) * countW))
                        var src = UnsafePointer(block)
                        for a in a0..<a1 {
                            var dst = y + ((rh + sh * a) * job.ow + rw) * cout
                            for _ in 0..<countW {
                                dst.update(from: src, count: cout)
                                src += cout
                                dst += ldc
                            }
                        }
                        continue
                    }
                    // One phase row's pixels b0..<b1, straight into the output (ldc skips the
                    // other phases' pixels).
                    let offset = ((rh + sh * a0) * job.ow + rw + sw * b0) * cout
                    table.convGemm(table: unitTable, taps: taps, cin: cin, b: b, c: y + offset, ldc: ldc, bias: biasPointer,
                                   residual: residual.map { $0 + offset }, activation: activation, rows: 0..<(b1 - b0))
                }
            }
        }
    }

    /// A few-channel run's state for the threads' pieces (rows of the GEMM, then output rows).
    private struct ColumnPieces {
        let conv: PhasedTransposedConv
        let columns: PackedMatrix
        let gemm: GemmSplit
        let rows: RowSplit
        let x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>
        let residual: UnsafePointer<Float>?
        let cols: UnsafeMutablePointer<Float>
        let h: Int, w: Int, oh: Int, ow: Int
        var image = 0
    }

    private func runColumns(_ columns: PackedMatrix, x: UnsafePointer<Float>, n: Int, h: Int, w: Int, y: UnsafeMutablePointer<Float>,
                            oh: Int, ow: Int, residual: UnsafePointer<Float>?, cols: UnsafeMutablePointer<Float>, pool: ThreadPool) {
        var job = ColumnPieces(conv: self, columns: columns, gemm: GemmSplit(m: h * w, b: columns, threads: pool.threads),
                               rows: RowSplit(rows: oh, threads: pool.threads, align: 1, minimumRows: 1), x: x, y: y,
                               residual: residual, cols: cols, h: h, w: w, oh: oh, ow: ow)
        for img in 0..<n {
            job.image = img
            pool.parallel(job.gemm.count, &job) { raw, piece in
                let j = raw.assumingMemoryBound(to: ColumnPieces.self).pointee, conv = j.conv
                let (rows, panels) = j.gemm.ranges(piece)
                conv.table.gemm(m: j.h * j.w, a: j.x + j.image * j.h * j.w * conv.cin, lda: conv.cin, b: j.columns, c: j.cols,
                                ldc: j.columns.n, bias: nil, residual: nil, activation: .linear, rows: rows, panels: panels)
            }
            pool.parallel(job.rows.count, &job) { raw, piece in
                let j = raw.assumingMemoryBound(to: ColumnPieces.self)
                j.pointee.conv.gather(j, rows: j.pointee.rows.range(piece))
            }
        }
    }

    /// Output rows `rows` of one image from its columns: each pixel sums what its phase's taps
    /// carry from the input pixels under them, then bias, residual and activation.
    private func gather(_ j: UnsafePointer<ColumnPieces>, rows: Range<Int>) {
        let job = j.pointee
        let sh = axisH.stride, sw = axisW.stride, cout = cout, rowLen = job.columns.n
        let outImage = job.image * job.oh * job.ow * cout
        let y = job.y + outImage
        for oy in rows {
            let a = oy / sh, th = axisH.taps[oy % sh], offH = axisH.offsets[oy % sh]
            let out = y + oy * job.ow * cout
            out.update(repeating: 0, count: job.ow * cout)
            // Tap by tap over the pixels of one phase of the row: no branch inside, and no pixel's
            // sum waits for its previous tap's.
            for rw in 0..<sw {
                let tw = axisW.taps[rw], offW = axisW.offsets[rw], countW = axisW.count(rw, output: job.ow)
                for t in 0..<th.count {
                    let iy = a + offH[t]
                    if iy < 0 || iy >= job.h { continue }
                    let inputRow = job.cols + iy * job.w * rowLen + th[t] * kw * cout
                    for u in 0..<tw.count {
                        let dx = offW[u]
                        let b0 = max(0, -dx), b1 = min(countW, job.w - dx)
                        if b0 >= b1 { continue }
                        var src = inputRow + (b0 + dx) * rowLen + tw[u] * cout
                        var dst = out + (rw + sw * b0) * cout
                        let dstStep = sw * cout
                        switch cout {
                        case 1:
                            for _ in b0..<b1 { dst[0] += src[0]; src += rowLen; dst += dstStep }
                        case 2:
                            for _ in b0..<b1 { dst[0] += src[0]; dst[1] += src[1]; src += rowLen; dst += dstStep }
                        case 3:
                            for _ in b0..<b1 { dst[0] += src[0]; dst[1] += src[1]; dst[2] += src[2]; src += rowLen; dst += dstStep }
                        default:
                            for _ in b0..<b1 {
                                for c in 0..<cout { dst[c] += src[c] }
                                src += rowLen
                                dst += dstStep
                            }
                        }
                    }
                }
            }
            applyEpilogue(EpilogueArgs(bias: bias.map { UnsafePointer($0.pointer) },
                                       residual: job.residual.map { $0 + outImage + oy * job.ow * cout }, activation: activation),
                          out, rows: job.ow, cols: cout, ldc: cout, math: self.table.vectorMath)
        }
    }
}
