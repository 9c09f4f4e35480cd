import CDLInferCPU
import Glibc

/// A depthwise convolution with its expand and/or 1x1 project convolutions (Op.depthwiseChain),
/// in bands of output rows. Per band: the input rows of the expanded tensor are computed into
/// the thread's scratch (the expand GEMM with its epilogue: a 1x1 conv is one GEMM over the
/// band's input rows, a few-channel conv such as a stem an indirect GEMM over kernel rows with
/// the band's table in the scratch too); the depthwise kernel turns them into
/// the band's output rows, into the scratch when a project follows; the project GEMM (with its
/// bias, residual and activation) writes the band's rows of the output. Each thread owns a
/// region of output rows and runs its bands top down, moving the expanded rows a band shares
/// with the previous one (one for a stride-2 3x3, two for stride 1) instead of computing them
/// again; a thread done with its region takes bands from the back of the region with most left
/// (RowClaims), computing their shared rows again. That keeps two threads even when one of
/// them runs slower (a core shared with another tenant).
final class DepthwiseChainOp: CompiledOp {
    let node: Node
    let p: DepthwiseChainParams
    let table: KernelTable
    /// A 1x1 convolution's packed weights and padded bias.
    struct Pointwise {
        let weights: PackedMatrix
        let bias: AlignedBuffer?
        let activation: Activation
    }
    let expand: Pointwise?
    /// The expand conv's window when it runs over kernel rows (not 1x1), and the zeros its
    /// table points at for rows in the padding.
    let expandWindow: Window?
    let expandZeros: AlignedBuffer?
    let project: Pointwise?
    let depthwise: AlignedBuffer   // [kh, kw, mid]
    let depthwiseBias: AlignedBuffer?
    /// Channels: the chain's input, the depthwise's, the output.
    let cin: Int, mid: Int, cout: Int
    private static let pointer = MemoryLayout<UnsafePointer<Float>>.stride
    let constants: [[Int]]

    init(_ node: Node, _ p: DepthwiseChainParams, _ g: IRGraph, _ table: KernelTable) throws {
        self.node = node
        self.p = p
        self.table = table
        func pointwise(_ c: ConvParams) throws -> Pointwise {
            let w = g.constants[c.weights]
            let k = w.shape[0] * w.shape[1] * w.shape[2]
            let packed = try w.data.withUnsafeBufferPointer {
                try PackedMatrix($0.baseAddress!, k: k, n: w.shape[3], ldb: w.shape[3], panelWidth: table.packWidth(w.shape[3]))
            }
            return Pointwise(weights: packed, bias: try c.epilogue.bias.map { try paddedBias(g.constants[$0].data, panelWidth: table.panelWidth) },
                             activation: c.epilogue.activation)
        }
        expand = try p.expand.map(pointwise)
        project = try p.project.map(pointwise)
        let dw = g.constants[p.depthwise.weights]
        mid = dw.shape[2]
        cin = p.expand.map { g.constantShapes[$0.weights][2] } ?? mid
        if let e = p.expand, !e.isPointwise {
            expandWindow = e.window
            expandZeros = try AlignedBuffer(count: e.window.kw * cin)
        } else {
            expandWindow = nil
            expandZeros = nil
        }
        cout = project?.weights.n ?? mid
        depthwise = try AlignedBuffer(dw.data)
        depthwiseBias = try p.depthwise.epilogue.bias.map { try paddedBias(g.constants[$0].data, panelWidth: 64) }
        constants = g.constantShapes
    }

    var label: String {
        let w = p.depthwise.window
        let e = expandWindow.map { "conv2d \($0.kh)x\($0.kw)\($0.sh == 1 && $0.sw == 1 ? "" : "/\($0.sw)") kernel-row gemm + " }
        return (expand == nil ? "" : e ?? "conv2d 1x1 gemm + ") + "depthwise \(w.kh)x\(w.kw)\(w.sh == 1 && w.sw == 1 ? "" : "/\(w.sw)")"
            + (project == nil ? "" : " + conv2d 1x1 gemm") + " in row bands \(table.tier.rawValue)"
    }

    func plan(_ inputs: [Shape]) throws -> OpPlan { try plan(inputs, threads: 1) }

    /// The expanded tensor's height and width from the chain's input's.
    private func expandedSize(h: Int, w: Int) -> (h: Int, w: Int) {
        guard let ew = expandWindow else { return (h, w) }
        let (gh, gw) = ew.runGeometry(h: h, w: w)
        return (gh.output, gw.output)
    }

    /// aux: [output rows per band, expanded floats per band, depthwise-output floats per band,
    /// kernel-row table bytes per band, whole-image mode, bytes of the row claims at the scratch's
    /// start] (a band's scratch holds all three).
    /// Whole-image mode (several threads, at most 4 output rows per thread, stride 1, a 1x1
    /// expand whose whole output fits the band budget twice): the threads first compute the whole
    /// expanded image together (an even share of its pixels each, into the scratch), then each
    /// runs the depthwise and project over its share of output pixels (its rows without a
    /// project). Split by rows from the start, MobileNetV2's 7x7 blocks went
    /// 3/4 rows with 4 and 5 expanded rows of 7 (1.57x at 2 threads); this way their three chains
    /// took 0.48 -> 0.45 ms (2 threads, per-op minimums of interleaved runs). With more rows per
    /// thread, or stride 2 (one shared row), the extra barrier costs what the shared rows did.
    func plan(_ inputs: [Shape], threads: Int) throws -> OpPlan {
        let out = try inferShapes(node.op, inputs, constants)
        let (_, ih, iw, _) = try nhwc(inputs[0], rank: 2)
        let (h, w) = expandedSize(h: ih, w: iw)
        let win = p.depthwise.window
        let (_, gw) = win.runGeometry(h: h, w: w)
        let rowFloats = try checkedMul(w, mid), outRowFloats = try checkedMul(gw.output, mid)
        let reach = (win.kh - 1) * win.dh + 1   // input rows under one output row
        // Rows of input (expanded) and output (depthwise) a band's budget holds.
        let perOutputRow = (expand == nil ? 0 : win.sh * rowFloats) + (project == nil ? 0 : outRowFloats)
        let band = max(1, p.bandFloats / max(perOutputRow, 1))
        let bandRows = (band - 1) * win.sh + reach   // expanded rows under a band
        // Each part of a band's scratch starts on a cache line (and the table on a pointer boundary).
        func lines(_ floats: Int) throws -> Int { try checkedAdd(floats, 15) & ~15 }
        let expanded = expand == nil ? 0 : try lines(try checkedMul(bandRows, rowFloats))
        let dwOut = project == nil ? 0 : try lines(try checkedMul(band, outRowFloats))
        var tableBytes = 0
        if let ew = expandWindow {
            // The band's kernel-row table (kh pointers per pixel), then its edge columns' padded runs.
            let (_, gw) = ew.runGeometry(h: ih, w: iw)
            let patchFloats = try checkedMul(try checkedMul(try checkedMul(bandRows, KernelRowSpan(gw).edges), ew.kh), ew.kw * cin)
            tableBytes = try checkedAdd(try checkedMul(try checkedMul(try checkedMul(bandRows, w), ew.kh), Self.pointer),
                                        try checkedMul(patchFloats, 4))
            tableBytes = (tableBytes + 63) & ~63
        }
        let flops = try self.flops(inputs, out)
        let wholeFloats = try checkedMul(try checkedMul(h, w), mid)
        let (gh, _) = win.runGeometry(h: h, w: w)
        let regions = try checkedMul(max(threads, 1), p.regionsPerThread)
        let claimBytes = try RowClaims.bytes(regions: regions)
        if threads > 1, gh.output <= 4 * threads, win.sh == 1, expand != nil, expandWindow == nil, wholeFloats <= 2 * p.bandFloats {
            // A piece's depthwise rows: a share of the rows, or (with a project, split by pixels)
            // up to all of them.
            let rows = (gh.output + threads - 1) / threads
            let whole = try lines(wholeFloats), dwOut = project == nil ? 0 : try lines(try checkedMul(gh.output, outRowFloats))
            // A run on one thread (a batch's small images) takes the regions band by band instead,
            // and a batch of at least `threads` images one slot of both per thread (see `run`).
            let slots = inputs[0][0] >= threads ? max(threads, p.regionsPerThread) : p.regionsPerThread
            let bytes = try checkedAdd(claimBytes, try checkedMul(max(try checkedAdd(whole, try checkedMul(dwOut, threads)),
                                                                      try checkedMul(whole + dwOut, slots)), 4))
            return OpPlan(outputs: out, scratchBytes: bytes, flops: flops, weightBytes: weightBytes,
                          aux: [rows, whole, dwOut, 0, 1, claimBytes])
        }
        let perThread = try checkedAdd(try checkedMul(try checkedAdd(expanded, dwOut), 4), tableBytes)
        let bytes = try checkedAdd(claimBytes, try checkedMul(perThread, regions))
        return OpPlan(outputs: out, scratchBytes: bytes, flops: flops, weightBytes: weightBytes,
                      aux: [band, expanded, dwOut, tableBytes, 0, claimBytes])
    }

    private var weightBytes: Int { (expand?.weights.bytes ?? 0) + depthwise.bytes + (project?.weights.bytes ?? 0) }

    private func flops(_ inputs: [Shape], _ out: [Shape]) throws -> Double {
        let (_, ih, iw, _) = try nhwc(inputs[0], rank: 2)
        let (h, w) = expandedSize(h: ih, w: iw)
        let win = p.depthwise.window
        let pixelsIn = h * w
        let pixelsOut = try checkedCount(out[0]) / max(out[0].last ?? 1, 1)
        let expandK = expand?.weights.k ?? 0
        return 2 * Double(pixelsIn) * Double(expandK * mid) * Double(inputs[0][0])
            + 2 * Double(pixelsOut) * Double(mid * (win.kh * win.kw + (project == nil ? 0 : cout)))
    }

    /// A batch's images for the threads, whole images each (see `run`): image 0's job, moved
    /// to each image by the images' strides.
    private struct BatchPieces {
        let first: Pieces
        let images: Int, threads: Int, inputFloats: Int, outputFloats: Int

        func job(_ image: Int) -> Pieces {
            var j = first
            j.x += image * inputFloats
            j.y += image * outputFloats
            j.residual = j.residual.map { $0 + image * outputFloats }
            j.conv.input += image * inputFloats
            j.conv.output += image * outputFloats
            return j
        }
    }

    /// One image's state for the threads' pieces: a region of output rows each, taken band by
    /// band from the claims (then bands from the back of other regions), or in whole-image mode
    /// a fixed range of rows each.
    private struct Pieces {
        let op: DepthwiseChainOp
        var x: UnsafePointer<Float>
        var y: UnsafeMutablePointer<Float>
        var residual: UnsafePointer<Float>?
        let scratch: UnsafeMutableRawPointer
        var conv: dl_dwconv   // the image's geometry; input, output, h and pad_top are set per band
        let epilogue: dl_epilogue
        /// The expanded tensor's height and width.
        let h: Int, w: Int
        /// A kernel-row expand's geometry over the chain's input (nil for a 1x1 expand).
        let expandGeometry: (h: AxisGeometry, w: AxisGeometry, span: KernelRowSpan)?
        let pieces: Int, band: Int, expandedFloats: Int, dwFloats: Int, tableBytes: Int
        /// Whole-image mode (see `plan`): the expanded image is after the claims, followed by
        /// each piece's depthwise output.
        let wholeImage: Bool
        /// The regions' claims (nil in whole-image mode), in the scratch's first `claimBytes`.
        let claims: RowClaims?
        let claimBytes: Int
        /// One thread runs the whole image band by band in scratch slot `piece` (a batch's
        /// images split between the threads).
        var alone = false

        /// Pixel rows `rows` of the whole expanded image (whole-image mode's first phase).
        func expandPixels(_ rows: Range<Int>) {
            guard let e = op.expand else { return }
            op.table.gemm(m: h * w, a: x, lda: op.cin, b: e.weights, c: (scratch + claimBytes).assumingMemoryBound(to: Float.self), ldc: op.mid,
                          bias: e.bias.map { UnsafePointer($0.pointer) }, residual: nil, activation: e.activation, rows: rows, inCache: true)
        }

        /// Expanded rows `rows` of the image into `dst` (the expand conv and its epilogue); a
        /// kernel-row expand builds its table at `scratchEnd`.
        private func expandRows(_ rows: Range<Int>, into dst: UnsafeMutablePointer<Float>, scratchEnd: UnsafeMutablePointer<Float>) {
            guard !rows.isEmpty, let e = op.expand else { return }
            let bias = e.bias.map { UnsafePointer($0.pointer) }
            if let (gh, gw, span) = expandGeometry {
                let table = UnsafeMutableRawPointer(scratchEnd).assumingMemoryBound(to: UnsafePointer<Float>.self)
                let patches = UnsafeMutableRawPointer(table + rows.count * w * gh.kernel).assumingMemoryBound(to: Float.self)
                kernelRowTable(x, channels: op.cin, zeros: op.expandZeros!.pointer, h: gh, w: gw, span: span, table: table,
                               patches: patches, pixels: (rows.lowerBound * w)..<(rows.upperBound * w), originRow: rows.lowerBound)
                op.table.convGemm(table: table, taps: gh.kernel, cin: gw.kernel * op.cin, b: e.weights, c: dst, ldc: op.mid,
                                  bias: bias, residual: nil, activation: e.activation, rows: 0..<(rows.count * w))
            } else {
                // m: the whole image's pixels (it picks the kernels: a band's must not depend on the band).
                op.table.gemm(m: h * w, a: x + rows.lowerBound * w * op.cin, lda: op.cin, b: e.weights, c: dst, ldc: op.mid,
                              bias: bias, residual: nil, activation: e.activation, rows: 0..<(rows.count * w), inCache: true)
            }
        }

        /// Piece `piece`'s output rows, band by band, then bands left in other regions.
        func runPiece(_ piece: Int) {
            let oh = Int(conv.oh)
            let expanded = (scratch + claimBytes + (wholeImage ? 0 : piece * ((expandedFloats + dwFloats) * 4 + tableBytes)))
                .assumingMemoryBound(to: Float.self)
            let dwOut = expanded + expandedFloats + (wholeImage ? piece * dwFloats : 0)
            // Expanded rows [held.lowerBound, held.upperBound) of the image are scratch rows 0...: the
            // rows a band shares with the previous one are moved down, not computed again.
            var held = 0..<0
            if alone {
                var o0 = 0
                while o0 < oh {
                    runBand(o0..<min(oh, o0 + band), held: &held, expanded: expanded, dwOut: dwOut)
                    o0 = min(oh, o0 + band)
                }
                return
            }
            guard let claims else {
                if op.project != nil {
                    // Whole-image mode: the expanded image is complete, so a piece takes an even share
                    // of the output pixels (cut at whole 6-pixel tiles), computing the depthwise rows
                    // under them (a row cut in two is computed by both pieces, each projecting its
                    // part). Split by rows, MobileNetV2's 7x7 blocks went 28/21 pixels at 2 threads.
                    let ow = Int(conv.ow), pixels = evenShare(piece, of: pieces, oh * ow)
                    guard !pixels.isEmpty else { return }
                    runBand((pixels.lowerBound / ow)..<((pixels.upperBound + ow - 1) / ow), pixels: pixels, held: &held,
                            expanded: expanded, dwOut: dwOut)
                    return
                }
                var o0 = oh * piece / pieces
                let end = oh * (piece + 1) / pieces
                while o0 < end {
                    runBand(o0..<min(end, o0 + band), held: &held, expanded: expanded, dwOut: dwOut)
                    o0 = min(end, o0 + band)
                }
                return
            }
            while let rows = claims.front(piece, upTo: band) {
                runBand(rows, held: &held, expanded: expanded, dwOut: dwOut)
            }
            // Bands from the back of a region whose owner is behind: they share no rows with this
            // thread's previous band, so each computes all its expanded rows.
            while let other = claims.fullest() {
                guard let rows = claims.back(other, upTo: band) else { continue }
                var none = 0..<0
                runBand(rows, held: &none, expanded: expanded, dwOut: dwOut)
            }
        }

        /// Output rows [o0, o1): their expanded rows (those not in `held`), depthwise, project (of
        /// `pixels` only, when given: output pixels within those rows).
        private func runBand(_ outRows: Range<Int>, pixels: Range<Int>? = nil, held: inout Range<Int>,
                             expanded: UnsafeMutablePointer<Float>, dwOut: UnsafeMutablePointer<Float>) {
            let ow = Int(conv.ow), sh = Int(conv.sh), padTop = Int(conv.pad_top)
            let reach = (Int(conv.kh) - 1) * Int(conv.dh) + 1
            let dwAct = op.p.depthwise.epilogue.activation
            let o0 = outRows.lowerBound, o1 = outRows.upperBound
            var d = conv
            if wholeImage {
                d.input = UnsafePointer(expanded)
            } else if op.expand != nil {
                // The image rows under output rows [o0, o1) (rows in the padding are not computed);
                // band row 0 is image row a: the kernel sees a band-high image padded by padTop + a.
                let a = min(h, max(0, o0 * sh - padTop)), b = max(a, min(h, (o1 - 1) * sh - padTop + reach))
                var from = a
                if held.contains(a) {
                    let kept = held.upperBound - a
                    memmove(expanded, expanded + (a - held.lowerBound) * w * op.mid, kept * w * op.mid * 4)
                    from = min(b, held.upperBound)
                }
                expandRows(from..<b, into: expanded + (from - a) * w * op.mid, scratchEnd: dwOut + dwFloats)
                held = a..<max(b, held.upperBound)
                d.input = UnsafePointer(expanded)
                d.h = Int64(b - a)
                d.pad_top = Int64(padTop + a)
            }
            // Into the output at its rows, or into the scratch as rows 0..<(o1 - o0) (the kernel
            // sees the image shifted up by o0 output rows).
            var rows = o0..<o1
            if op.project != nil {
                d.output = dwOut
                d.pad_top -= Int64(o0 * sh)
                rows = 0..<(o1 - o0)
            }
            withUnsafePointer(to: d) { dp in withUnsafePointer(to: epilogue) { op.table.depthwise(dp, $0, rows.lowerBound, rows.upperBound) } }
            if dwAct.registerEpilogue == nil {
                applyEpilogue(EpilogueArgs(bias: nil, residual: nil, activation: dwAct), d.output + rows.lowerBound * ow * op.mid,
                              rows: rows.count * ow, cols: op.mid, ldc: op.mid, math: op.table.vectorMath)
            }
            if let pr = op.project {
                let p0 = pixels?.lowerBound ?? o0 * ow, p1 = pixels?.upperBound ?? o1 * ow
                let offset = p0 * op.cout
                // m: the image's output pixels (it picks the kernels: a piece's must not depend on the piece).
                op.table.gemm(m: Int(conv.oh) * ow, a: dwOut + (p0 - o0 * ow) * op.mid, lda: op.mid, b: pr.weights, c: y + offset,
                              ldc: op.cout, bias: pr.bias.map { UnsafePointer($0.pointer) }, residual: residual.map { $0 + offset },
                              activation: pr.activation, rows: 0..<(p1 - p0), inCache: true)
            }
        }
    }

    func run(_ s: Step) {
        let x = s.inputs[0], y = s.outputs[0]
        let (n, ih, iw, _) = nhwcDims(x.shape, rank: 2)
        let (h, w) = expandedSize(h: ih, w: iw)
        let expandGeometry = expandWindow.map { ew in
            let (gh, gw) = ew.runGeometry(h: ih, w: iw)
            return (h: gh, w: gw, span: KernelRowSpan(gw))
        }
        let win = p.depthwise.window
        let (gh, gw) = win.runGeometry(h: h, w: w)
        let pixels = gh.output * gw.output
        let residual: UnsafePointer<Float>? = p.project?.epilogue.residual == true ? UnsafePointer(s.inputs[1].f32) : nil
        let pool = s.pool(perImageOf: n)
        let threads = pool.threads
        func pieces(image img: Int, alone: Bool) -> Pieces {
            let d = dl_dwconv(input: x.f32 + img * ih * iw * cin, weights: depthwise.pointer, output: y.f32 + img * pixels * cout,
                              c: mid, window: win, h: gh, w: gw)
            let e = dl_epilogue(bias: depthwiseBias.map { UnsafePointer($0.pointer) }, residual: nil, ldResidual: mid,
                                registerPartOf: p.depthwise.epilogue.activation)
            let wholeImage = s.aux[4] != 0 && threads > 1 && !alone
            let regions = min(threads * p.regionsPerThread, gh.output)
            var job = Pieces(op: self, x: x.f32 + img * ih * iw * cin, y: y.f32 + img * pixels * cout,
                             residual: residual.map { $0 + img * pixels * cout }, scratch: s.scratch!,
                             conv: d, epilogue: e, h: h, w: w, expandGeometry: expandGeometry,
                             pieces: wholeImage ? min(threads, gh.output) : regions,
                             band: s.aux[0], expandedFloats: s.aux[1], dwFloats: s.aux[2], tableBytes: s.aux[3],
                             wholeImage: wholeImage, claims: wholeImage || alone ? nil : RowClaims(base: s.scratch!, regions: regions),
                             claimBytes: s.aux[5])
            job.alone = alone
            return job
        }
        // A batch of at least as many images as threads: whole images per thread (thread t runs
        // images t, t + T, ...), each band by band in its own scratch slot, as a one-thread run
        // does: no barriers and no rows computed twice at the pieces' edges (MobileNetV2 at batch
        // 8 and 2 threads: 22.3 -> 21.2 ms, 1.80x -> 1.90x the 1-thread time). The images left
        // over (fewer than the threads) are split as below.
        let together = threads > 1 ? n / threads * threads : 0
        if together > 0 {
            var batch = BatchPieces(first: pieces(image: 0, alone: true), images: together,
                                    threads: threads, inputFloats: ih * iw * cin, outputFloats: pixels * cout)
            pool.parallel(threads, &batch) { raw, t in
                let b = raw.assumingMemoryBound(to: BatchPieces.self)
                var img = t
                while img < b.pointee.images {
                    b.pointee.job(img).runPiece(t)
                    img += b.pointee.threads
                }
            }
        }
        for img in together..<n {
            var job = pieces(image: img, alone: false)
            if let claims = job.claims {
                for i in 0..<claims.regions { claims.reset(i, (gh.output * i / claims.regions)..<(gh.output * (i + 1) / claims.regions)) }
            }
            if job.wholeImage {
                // One even share of the pixels per thread, as in the second phase: each piece
                // reads all of the expand's weights (0.6 MB in MobileNetV2's 7x7 blocks), so the
                // shrinking pieces of a RowSplit (24 + 24 + 1 of 49) paid a whole pass of them
                // for one row.
                pool.parallel(job.pieces, &job) { raw, piece in
                    let j = raw.assumingMemoryBound(to: Pieces.self)
                    j.pointee.expandPixels(evenShare(piece, of: j.pointee.pieces, j.pointee.h * j.pointee.w))
                }
            }
            pool.parallel(job.pieces, &job) { raw, piece in
                raw.assumingMemoryBound(to: Pieces.self).pointee.runPiece(piece)
            }
        }
    }
}

/// Part `i` of `parts` of `total` rows (pixels) cut evenly, at multiples of 6 (whole GEMM row
/// tiles) where they fall near one: whole-image mode's pieces.
private func evenShare(_ i: Int, of parts: Int, _ total: Int) -> Range<Int> {
    func boundary(_ j: Int) -> Int { j >= parts ? total : min(total, (total * j / parts + 3) / 6 * 6) }
    return boundary(i)..<boundary(i + 1)
}
