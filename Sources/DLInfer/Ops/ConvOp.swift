import CDLInferCPU

/// Conv1D/Conv2D (grouped): a 1x1 stride-1 unpadded convolution is one GEMM over all pixels;
/// other ungrouped convolutions with at least `indirectMinChannels` input channels are an
/// indirect GEMM (a table of input-pixel addresses per tap, in the plan's scratch, instead of a
/// copied patch matrix); ungrouped ones with fewer channels and no horizontal dilation are an
/// indirect GEMM over kernel rows (each kernel row's kw * C floats are one run in NHWC, so a
/// "tap" is a whole kernel row); the rest gather patches (im2col, into the scratch) and run a
/// GEMM per image and group. Bias, a fused residual and the activation are applied as the
/// epilogue.
final class ConvOp: CompiledOp {
    let node: Node
    let p: ConvParams
    let table: KernelTable
    /// Per group: the [kh*kw*cg, cout/groups] slice of Keras' kernel, packed for the GEMM.
    let weights: [PackedMatrix]
    /// Per group: its slice of the bias, padded to whole panels.
    let bias: [AlignedBuffer]
    let cg: Int, cout: Int
    let pointwise: Bool
    let indirect: Bool
    /// The indirect GEMM over kernel rows (few input channels, see the type's comment).
    let kernelRows: Bool
    /// cg zeros (kw * cg for kernel rows): what the indirection table points at for taps in the padding.
    let zeros: AlignedBuffer
    /// A 3x3 stride-1 convolution's Winograd-domain weight matrices (Kernels/Winograd.swift), 36
    /// for F(4x4, 3x3) or 16 for F(2x2, 3x3), used when the image has at least
    /// `winogradMinTiles` output tiles and is finite.
    let winograd: [PackedMatrix]
    let winogradVariant: Winograd.Variant
    /// With a shortcut (ConvParams.shortcut): its input's channels, and the channels of one tap
    /// of the indirect GEMM over both inputs (the two channel counts' greatest common divisor).
    /// `weights` is then the conv's kernel rows followed by the shortcut's, K = cg + shortcutChannels.
    let shortcutChannels: Int, tapChannels: Int
    let constants: [[Int]]

    /// Below `ConvParams.indirectMinChannels` channels a tap's row is too short for the indirect
    /// kernel's per-tap overhead; a whole kernel row (kw * C contiguous floats) is long enough,
    /// so such convolutions run over kernel rows (im2col when the row is not contiguous: grouped,
    /// or dilated horizontally). ResNet50's 7x7/2 stem: 3.5-4.3 -> 2.5-3.0 ms against im2col
    /// (dlbench profiles, interleaved).
    static let indirectMinChannels = ConvParams.indirectMinChannels
    /// Fewer output tiles than this (a 12x12 output has 9) make the 36 GEMMs too short, and
    /// their 4x larger weights too costly to stream, for Winograd to win. At 9 (an 11x11 output,
    /// 32 -> 64 channels) Winograd still beat the indirect GEMM: the small CNN's min latency went
    /// from 50.0 to 46.9 us (dlbench, interleaved runs of both builds).
    static let winogradMinTiles = 9
    /// F(2x2, 3x3) instead of F(4x4, 3x3) when the output (its static shape) has fewer 4x4 tiles
    /// than this and the F(4x4) weights exceed `winograd2x2AboveBytes`: each of the 36 weight
    /// matrices then serves too few rows to hide streaming it from memory, and F(2x2) has 4x the
    /// rows per matrix and 16 / 36 of the weights. ResNet50's conv4 3x3 layers (14x14, 16 tiles,
    /// 9.4 MB of F(4x4) weights) went 1.40-1.53 -> 1.06-1.11 ms at one thread, 0.71-0.73 -> 0.56-0.59
    /// ms at two; its conv5 3x3 layers (7x7, too few 4x4 tiles for F(4x4), so an indirect GEMM
    /// before) run F(2x2) in the same time at one thread, 0.78 -> 0.73 ms at two (per-op minimums,
    /// interleaved).
    static let winograd2x2BelowTiles = 32
    static let winograd2x2AboveBytes = 1 << 20
    /// Fewer 2x2 output tiles than this with over `winograd2x2AboveBytes` of F(2x2) weights: an
    /// indirect GEMM, no Winograd. Each of F(2x2)'s 16 weight matrices then serves too few rows
    /// to hide streaming it from memory, and in a whole model (weights far beyond the caches) a
    /// conv's weights do stream from memory on every run: ResNet50's conv5 3x3 layers (7x7, 16
    /// tiles, 16.8 MB of F(2x2) weights against 9.4 MB direct) 1.57 -> 1.45 ms at one thread
    /// (82% -> 89% of peak), 0.83 -> 0.78 ms at two (per-op minimums of 6 interleaved rounds).
    /// Alone in a model, weights kept in the last-level cache from run to run, F(2x2) would win
    /// (1.08 against 1.53 ms): a deployed network is the case that counts.
    static let winograd2x2MinTiles = 32

    init(_ node: Node, _ p: ConvParams, _ g: IRGraph, _ table: KernelTable) throws {
        self.node = node
        self.p = p
        self.table = table
        let w = g.constants[p.weights]
        let cg = w.shape[2], cout = w.shape[3]
        self.cg = cg
        self.cout = cout
        let og = cout / p.groups, rowLen = w.shape[0] * w.shape[1] * cg
        let ws = p.shortcut.map { g.constants[$0.weights] }
        shortcutChannels = ws?.shape[2] ?? 0
        tapChannels = ws == nil ? cg : greatestCommonDivisor(cg, shortcutChannels)
        if let ws {
            let both = w.data + ws.data
            weights = [try both.withUnsafeBufferPointer {
                try PackedMatrix($0.baseAddress!, k: cg + ws.shape[2], n: cout, ldb: cout, panelWidth: table.packWidth(cout))
            }]
        } else {
            weights = try w.data.withUnsafeBufferPointer { wp in
                try (0..<p.groups).map { gi in
                    try PackedMatrix(wp.baseAddress! + gi * og, k: rowLen, n: og, ldb: cout, panelWidth: table.packWidth(og))
                }
            }
        }
        bias = try p.epilogue.bias.map { b in
            try (0..<p.groups).map { gi in try paddedBias(Array(g.constants[b].data[(gi * og)..<((gi + 1) * og)]), panelWidth: table.panelWidth) }
        } ?? []
        let win = p.window
        pointwise = p.isPointwise && p.shortcut == nil
        indirect = !p.isPointwise && p.groups == 1 && cg >= Self.indirectMinChannels
        kernelRows = p.runsOverKernelRows(inputChannels: cg)
        zeros = try AlignedBuffer(count: indirect ? cg : kernelRows ? win.kw * cg : 0)
        let win3x3 = win.rank == 2 && win.kh == 3 && win.kw == 3 && win.sh == 1 && win.sw == 1 && win.dh == 1 && win.dw == 1
        let out = g.values[node.outputs[0]].shape
        let tiles4x4 = out.count == 4 && out[1] > 0 && out[2] > 0 ? ((out[1] + 3) / 4) * ((out[2] + 3) / 4) : Int.max
        let variant = tiles4x4 < Self.winograd2x2BelowTiles && 36 * 4 * cg * cout > Self.winograd2x2AboveBytes ? Winograd.f2x2 : Winograd.f4x4
        let tiles2x2 = out.count == 4 && out[1] > 0 && out[2] > 0 ? ((out[1] + 1) / 2) * ((out[2] + 1) / 2) : Int.max
        let streamsWeights = variant == Winograd.f2x2 && tiles2x2 < Self.winograd2x2MinTiles && 16 * 4 * cg * cout > Self.winograd2x2AboveBytes
        winogradVariant = variant
        winograd = indirect && win3x3 && cout >= Self.indirectMinChannels && !streamsWeights
            ? try w.data.withUnsafeBufferPointer { try Winograd.transformWeights($0.baseAddress!, cin: cg, cout: cout, table: table, variant: variant) }
            : []
        constants = g.constantShapes
    }

    var label: String {
        let w = p.window
        let k = w.rank == 1 ? "\(w.kw)" : "\(w.kh)x\(w.kw)"
        let s = w.sh == 1 && w.sw == 1 ? "" : "/\(w.rank == 1 ? "\(w.sw)" : "\(w.sh)x\(w.sw)")"
        if let sc = p.shortcut {
            return "\(node.op.kindName) \(k) + shortcut 1x1\(sc.sh == 1 && sc.sw == 1 ? "" : "/\(sc.sh)x\(sc.sw)") indirect gemm \(table.tier.rawValue)"
        }
        return "\(node.op.kindName) \(k)\(s)\(p.groups > 1 ? " g\(p.groups)" : "") \(pointwise ? "gemm" : !winograd.isEmpty ? (winogradVariant.m == 2 ? "winograd2x2|indirect gemm" : "winograd|indirect gemm") : indirect ? "indirect gemm" : kernelRows ? "kernel-row gemm" : "im2col+gemm") \(table.tier.rawValue)"
    }

    func plan(_ inputs: [Shape]) throws -> OpPlan {
        let out = try inferShapes(node.op, inputs, constants)
        let (_, oh, ow, _) = try nhwc(out[0], rank: p.window.rank)
        let pixels = try checkedMul(oh, ow)
        let rowLen = try checkedMul(try checkedMul(p.window.kh, p.window.kw), cg)
        let taps = p.window.kh * p.window.kw
        let pointer = MemoryLayout<UnsafePointer<Float>>.stride
        var scratch: Int, persistent = 0
        if p.shortcut != nil {
            scratch = try checkedMul(try checkedMul(pixels, (cg + shortcutChannels) / tapChannels), pointer)
        } else if pointwise {
            scratch = 0
        } else if indirect {
            scratch = try checkedMul(try checkedMul(pixels, taps), pointer)
        } else if kernelRows {
            // The table (kh pointers per pixel), then the edge columns' padded runs.
            let (_, h, w, _) = try nhwc(inputs[0], rank: p.window.rank)
            let (gh, gw) = p.window.runGeometry(h: h, w: w)
            let patches = try checkedMul(try checkedMul(try checkedMul(gh.output, KernelRowSpan(gw).edges), p.window.kh),
                                         try checkedMul(p.window.kw, cg))
            scratch = try checkedAdd(try checkedMul(try checkedMul(pixels, p.window.kh), pointer), try checkedMul(patches, 4))
            if inputs[0][0] == 1 {
                // One image: the table is kept from run to run (see KernelRowCache).
                persistent = try checkedAdd(scratch, KernelRowCache.headerBytes)
                scratch = 0
            }
        } else {
            scratch = try checkedMul(try checkedMul(pixels, rowLen), 4)
        }
        let runsWinograd = useWinograd(oh: oh, ow: ow)
        if runsWinograd {
            // The input transform [products][tiles][cin], then the products [products][tiles][cout].
            let edge = winogradVariant.m
            let tiles = try checkedMul((oh + edge - 1) / edge, (ow + edge - 1) / edge)
            let floats = try checkedMul(try checkedMul(winogradVariant.products, tiles), try checkedAdd(cg, cout))
            scratch = max(scratch, try checkedMul(floats, 4))
        }
        let flops = 2 * Double(try checkedCount(out[0])) * Double(rowLen + shortcutChannels)
        let weightBytes = (runsWinograd ? winograd : weights).reduce(0) { $0 + $1.bytes }
        return OpPlan(outputs: out, scratchBytes: scratch, persistentBytes: persistent, flops: flops, weightBytes: weightBytes)
    }

    /// A 1x1 conv run's state for the threads' pieces (some rows or column panels of one GEMM each).
    private struct PointwisePieces {
        let op: ConvOp
        let split: GemmSplit
        let x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>
        let residual: UnsafePointer<Float>?
        let c: Int
    }

    /// An im2col conv run's state for the threads' pieces (some output rows each).
    private struct Pieces {
        let op: ConvOp
        let split: RowSplit
        let x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>
        let residual: UnsafePointer<Float>?
        let cols: UnsafeMutablePointer<Float>?   // the patch matrix (scratch), im2col only
        let h: Int, w: Int, c: Int, pixels: Int, rows: Int
        let gh: AxisGeometry, gw: AxisGeometry
        var image = 0, group = 0
    }

    private func useWinograd(oh: Int, ow: Int) -> Bool {
        let edge = winogradVariant.m
        return !winograd.isEmpty && ((oh + edge - 1) / edge) * ((ow + edge - 1) / edge) >= Self.winogradMinTiles
    }

    /// A Winograd conv run's state for the threads' pieces (tiles in the transforms, some of the
    /// 36 or 16 GEMMs in between).
    private struct WinogradPieces {
        let op: ConvOp
        let tileSplit: RowSplit
        /// The GEMMs in a few pieces (one per closure call, not one call each).
        let gemmSplit: RowSplit
        let x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>
        let residual: UnsafePointer<Float>?
        let v: UnsafeMutablePointer<Float>, m: UnsafeMutablePointer<Float>
        let h: Int, w: Int, c: Int, oh: Int, ow: Int, tilesW: Int, tiles: Int, padTop: Int, padLeft: Int
        var image = 0
        var epilogue = dl_epilogue()
    }

    /// Runs the convolution through Winograd F(4x4, 3x3) or F(2x2, 3x3): input transform, 36 or 16 GEMMs, output
    /// transform with the epilogue; each phase split among the threads.
    private func runWinograd(_ s: Step, n: Int, h: Int, w: Int, c: Int, gh: AxisGeometry, gw: AxisGeometry, residual: UnsafePointer<Float>?) {
        let edge = winogradVariant.m, products = winogradVariant.products
        let tilesW = (gw.output + edge - 1) / edge, tiles = ((gh.output + edge - 1) / edge) * tilesW
        let v = s.scratch!.assumingMemoryBound(to: Float.self)
        let pool = s.pool(perImageOf: n)
        var job = WinogradPieces(op: self, tileSplit: RowSplit(rows: tiles, threads: pool.threads, align: 1, minimumRows: 4),
                                 gemmSplit: RowSplit(rows: products, threads: pool.threads, align: 1, minimumRows: 1),
                                 x: s.inputs[0].f32, y: s.outputs[0].f32, residual: residual, v: v, m: v + products * tiles * c,
                                 h: h, w: w, c: c, oh: gh.output, ow: gw.output, tilesW: tilesW, tiles: tiles,
                                 padTop: gh.padBefore, padLeft: gw.padBefore)
        for img in 0..<n {
            job.image = img
            let pixels = gh.output * gw.output
            job.epilogue = dl_epilogue(bias: bias.first.map { UnsafePointer($0.pointer) }, residual: residual.map { $0 + img * pixels * cout },
                                       ldResidual: cout, registerPartOf: p.epilogue.activation)
            pool.parallel(job.tileSplit.count, &job) { raw, piece in
                let j = raw.assumingMemoryBound(to: WinogradPieces.self).pointee
                let r = j.tileSplit.range(piece)
                j.op.table.winogradKernels(j.op.winogradVariant).input(j.x + j.image * j.h * j.w * j.c, j.h, j.w, j.c, j.padTop, j.padLeft, j.tilesW, j.tiles, j.v,
                                         r.lowerBound, r.upperBound)
            }
            pool.parallel(job.gemmSplit.count, &job) { raw, piece in
                let j = raw.assumingMemoryBound(to: WinogradPieces.self).pointee, op = j.op
                for e in j.gemmSplit.range(piece) {
                    op.table.gemm(m: j.tiles, a: j.v + e * j.tiles * j.c, lda: j.c, b: op.winograd[e], c: j.m + e * j.tiles * op.cout,
                                  ldc: op.cout, bias: nil, residual: nil, activation: .linear)
                }
            }
            pool.parallel(job.tileSplit.count, &job) { raw, piece in
                let j = raw.assumingMemoryBound(to: WinogradPieces.self), op = j.pointee.op
                let r = j.pointee.tileSplit.range(piece), image = j.pointee.image
                withUnsafePointer(to: j.pointee.epilogue) { e in
                    op.table.winogradKernels(op.winogradVariant).output(j.pointee.m, j.pointee.tiles, op.cout, j.pointee.tilesW, j.pointee.oh, j.pointee.ow,
                                            j.pointee.y + image * j.pointee.oh * j.pointee.ow * op.cout, e, r.lowerBound, r.upperBound)
                }
            }
            if p.epilogue.activation.registerEpilogue == nil {
                applyEpilogue(EpilogueArgs(bias: nil, residual: nil, activation: p.epilogue.activation),
                              s.outputs[0].f32 + img * pixels * cout, rows: pixels, cols: cout, ldc: cout, math: table.vectorMath)
            }
        }
    }

    /// A kernel-row conv run's state for the threads' pieces (some output pixels each, which
    /// fill their rows of the table, then multiply them).
    private struct KernelRowPieces {
        let op: ConvOp
        let split: RowSplit
        let x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>
        let residual: UnsafePointer<Float>?
        let table: UnsafeMutablePointer<UnsafePointer<Float>>, patches: UnsafeMutablePointer<Float>
        let h: Int, w: Int, c: Int, pixels: Int
        let gh: AxisGeometry, gw: AxisGeometry, span: KernelRowSpan
        /// The table's interior entries are already in place (KernelRowCache).
        let edgesOnly: Bool
        var image = 0
    }

    /// An indirect conv run's state for the threads' pieces (some output pixels each).
    private struct IndirectPieces {
        let op: ConvOp
        let split: RowSplit
        let gemm: GemmSplit
        let x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>
        let residual: UnsafePointer<Float>?
        let table: UnsafeMutablePointer<UnsafePointer<Float>>
        let h: Int, w: Int, c: Int, pixels: Int
        let gh: AxisGeometry, gw: AxisGeometry
        var image = 0
    }

    /// A conv with a shortcut's run state for the threads' pieces (output pixels of the table, then
    /// rows or column panels of the GEMM).
    private struct ShortcutPieces {
        let op: ConvOp
        let split: RowSplit
        let gemm: GemmSplit
        let x: UnsafePointer<Float>, source: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>
        let table: UnsafeMutablePointer<UnsafePointer<Float>>
        let pixels: Int, outputWidth: Int, sourceHeight: Int, sourceWidth: Int, strides: (Int, Int)
        var image = 0
    }

    /// One indirect GEMM over the conv's input pixel and the shortcut's (strided) input pixel.
    private func runWithShortcut(_ s: Step, n: Int, pixels: Int, outputWidth: Int) {
        guard let sc = p.shortcut else { return }
        let pool = s.pool(perImageOf: n)
        let (_, sh, sw, _) = nhwcDims(s.inputs[1].shape, rank: 2)
        var job = ShortcutPieces(op: self, split: RowSplit(rows: pixels, threads: pool.threads),
                                 gemm: GemmSplit(m: pixels, b: weights[0], threads: pool.threads), x: s.inputs[0].f32,
                                 source: s.inputs[1].f32, y: s.outputs[0].f32, table: s.scratch!.assumingMemoryBound(to: UnsafePointer<Float>.self),
                                 pixels: pixels, outputWidth: outputWidth, sourceHeight: sh, sourceWidth: sw, strides: (sc.sh, sc.sw))
        for img in 0..<n {
            job.image = img
            pool.parallel(job.split.count, &job) { raw, piece in
                let j = raw.assumingMemoryBound(to: ShortcutPieces.self).pointee, op = j.op
                shortcutTable(j.x + j.image * j.pixels * op.cg, channels: op.cg,
                              j.source + j.image * j.sourceHeight * j.sourceWidth * op.shortcutChannels,
                              shortcutChannels: op.shortcutChannels, shortcutWidth: j.sourceWidth, strides: j.strides,
                              tapChannels: op.tapChannels, outputWidth: j.outputWidth, table: j.table, pixels: j.split.range(piece))
            }
            pool.parallel(job.gemm.count, &job) { raw, piece in
                let j = raw.assumingMemoryBound(to: ShortcutPieces.self).pointee, op = j.op
                let (rows, panels) = j.gemm.ranges(piece)
                op.table.convGemm(table: j.table, taps: (op.cg + op.shortcutChannels) / op.tapChannels, cin: op.tapChannels,
                                  b: op.weights[0], c: j.y + j.image * j.pixels * op.cout, ldc: op.cout,
                                  bias: op.bias.first.map { UnsafePointer($0.pointer) }, residual: nil,
                                  activation: op.p.epilogue.activation, rows: rows, panels: panels)
            }
        }
    }

    func run(_ s: Step) {
        let x = s.inputs[0], y = s.outputs[0]
        let (n, h, w, c) = nhwcDims(x.shape, rank: p.window.rank)
        let (gh, gw) = p.window.runGeometry(h: h, w: w)
        let pixels = gh.output * gw.output
        let residual: UnsafePointer<Float>? = p.epilogue.residual ? UnsafePointer(s.inputs[1].f32) : nil
        if p.shortcut != nil {
            runWithShortcut(s, n: n, pixels: pixels, outputWidth: gw.output)
            return
        }
        if pointwise {
            var job = PointwisePieces(op: self, split: GemmSplit(m: n * pixels, b: weights[0], threads: s.pool.threads),
                                      x: x.f32, y: y.f32, residual: residual, c: c)
            s.pool.parallel(job.split.count, &job) { raw, piece in
                let j = raw.assumingMemoryBound(to: PointwisePieces.self).pointee, op = j.op
                let (rows, panels) = j.split.ranges(piece)
                op.table.gemm(m: j.split.m, a: j.x, lda: j.c, b: op.weights[0], c: j.y, ldc: op.cout,
                              bias: op.bias.first.map { UnsafePointer($0.pointer) }, residual: j.residual,
                              activation: op.p.epilogue.activation, rows: rows, panels: panels)
            }
            return
        }
        if useWinograd(oh: gh.output, ow: gw.output) && table.allFinite(x.f32, n * h * w * c) {
            runWinograd(s, n: n, h: h, w: w, c: c, gh: gh, gw: gw, residual: residual)
            return
        }
        let pool = s.pool(perImageOf: n)
        if kernelRows {
            // One image keeps its table in the plan's persistent memory: the interior entries are
            // addresses in the arena, the same every run, so once built only the edge columns'
            // patches (copies of input) are filled again.
            let cache = s.persistent.map { KernelRowCache($0) }
            let memory = cache?.table ?? s.scratch!
            let table = memory.assumingMemoryBound(to: UnsafePointer<Float>.self)
            let patches = (memory + pixels * gh.kernel * MemoryLayout<UnsafePointer<Float>>.stride).assumingMemoryBound(to: Float.self)
            var job = KernelRowPieces(op: self, split: RowSplit(rows: pixels, threads: pool.threads), x: x.f32, y: y.f32,
                                      residual: residual, table: table, patches: patches, h: h, w: w, c: c, pixels: pixels,
                                      gh: gh, gw: gw, span: KernelRowSpan(gw), edgesOnly: cache?.isBuilt(for: x.f32) ?? false)
            defer { cache?.markBuilt(for: x.f32) }
            for img in 0..<n {
                job.image = img
                pool.parallel(job.split.count, &job) { raw, piece in
                    let j = raw.assumingMemoryBound(to: KernelRowPieces.self).pointee, op = j.op
                    let rows = j.split.range(piece)
                    kernelRowTable(j.x + j.image * j.h * j.w * j.c, channels: j.c, zeros: op.zeros.pointer, h: j.gh, w: j.gw,
                                   span: j.span, table: j.table, patches: j.patches, pixels: rows, edgesOnly: j.edgesOnly)
                    let offset = j.image * j.pixels * op.cout
                    op.table.convGemm(table: j.table, taps: j.gh.kernel, cin: j.gw.kernel * j.c, b: op.weights[0], c: j.y + offset,
                                      ldc: op.cout, bias: op.bias.first.map { UnsafePointer($0.pointer) },
                                      residual: j.residual.map { $0 + offset }, activation: op.p.epilogue.activation, rows: rows)
                }
            }
            return
        }
        if indirect {
            let table = s.scratch!.assumingMemoryBound(to: UnsafePointer<Float>.self)
            var job = IndirectPieces(op: self, split: RowSplit(rows: pixels, threads: pool.threads),
                                     gemm: GemmSplit(m: pixels, b: weights[0], threads: pool.threads), x: x.f32, y: y.f32,
                                     residual: residual, table: table, h: h, w: w, c: c, pixels: pixels, gh: gh, gw: gw)
            for img in 0..<n {
                job.image = img
                // The table's rows first, then the GEMM by rows or by column panels (few pixels, as in
                // late layers, split better by panels).
                pool.parallel(job.split.count, &job) { raw, piece in
                    let j = raw.assumingMemoryBound(to: IndirectPieces.self).pointee
                    indirectionTable(j.x + j.image * j.h * j.w * j.c, channels: j.c, zeros: j.op.zeros.pointer, h: j.gh, w: j.gw,
                                     table: j.table, pixels: j.split.range(piece))
                }
                pool.parallel(job.gemm.count, &job) { raw, piece in
                    let j = raw.assumingMemoryBound(to: IndirectPieces.self).pointee, op = j.op
                    let (rows, panels) = j.gemm.ranges(piece)
                    let offset = j.image * j.pixels * op.cout
                    op.table.convGemm(table: j.table, taps: j.gh.kernel * j.gw.kernel, cin: j.c, b: op.weights[0], c: j.y + offset,
                                      ldc: op.cout, bias: op.bias.first.map { UnsafePointer($0.pointer) },
                                      residual: j.residual.map { $0 + offset }, activation: op.p.epilogue.activation,
                                      rows: rows, panels: panels)
                }
            }
            return
        }
        // Each piece gathers its own rows of the patch matrix, then multiplies them.
        var job = Pieces(op: self, split: RowSplit(rows: pixels, threads: pool.threads), x: x.f32, y: y.f32, residual: residual,
                         cols: s.scratch!.assumingMemoryBound(to: Float.self), h: h, w: w, c: c, pixels: pixels, rows: pixels,
                         gh: gh, gw: gw)
        for img in 0..<n {
            for gi in 0..<p.groups {
                job.image = img
                job.group = gi
                pool.parallel(job.split.count, &job) { raw, piece in
                    let j = raw.assumingMemoryBound(to: Pieces.self).pointee, op = j.op
                    let rows = j.split.range(piece), og = op.cout / op.p.groups
                    let rowLen = op.p.window.kh * op.p.window.kw * op.cg
                    let cols = j.cols!
                    let offset = j.image * j.pixels * op.cout + j.group * og
                    // In blocks of about 64 KB of patches, each multiplied while it is still in cache.
                    let block = max(6, (16384 / max(rowLen, 1)) / 6 * 6)
                    var first = rows.lowerBound
                    while first < rows.upperBound {
                        let part = first..<min(rows.upperBound, first + block)
                        op.table.im2col(j.x + j.image * j.h * j.w * j.c, j.h, j.w, j.c, j.group * op.cg, op.cg, j.gh.kernel, j.gw.kernel,
                                        j.gh.stride, j.gw.stride, j.gh.dilation, j.gw.dilation, j.gh.padBefore, j.gw.padBefore,
                                        j.gw.output, cols, part.lowerBound, part.upperBound)
                        op.table.gemm(m: j.pixels, a: cols, lda: rowLen, b: op.weights[j.group], c: j.y + offset, ldc: op.cout,
                                      bias: op.bias.isEmpty ? nil : UnsafePointer(op.bias[j.group].pointer),
                                      residual: j.residual.map { $0 + offset }, activation: op.p.epilogue.activation, rows: part)
                        first = part.upperBound
                    }
                }
            }
        }
    }
}

/// The header of a one-image kernel-row conv's persistent memory (the input address its table
/// was built for; zero: not built yet), then the table and patches.
struct KernelRowCache {
    static let headerBytes = 64
    private let header: UnsafeMutablePointer<Int>
    let table: UnsafeMutableRawPointer

    init(_ memory: UnsafeMutableRawPointer) {
        header = memory.assumingMemoryBound(to: Int.self)
        table = memory + KernelRowCache.headerBytes
    }

    func isBuilt(for input: UnsafePointer<Float>) -> Bool { header.pointee == Int(bitPattern: input) }

    func markBuilt(for input: UnsafePointer<Float>) { header.pointee = Int(bitPattern: input) }
}
