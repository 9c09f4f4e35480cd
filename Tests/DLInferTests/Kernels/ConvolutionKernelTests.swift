@testable import DLInfer
import CDLInferCPU
import Testing

/// Every tier's indirect-GEMM (per tap and per kernel row) and Winograd F(4x4, 3x3)
/// convolutions against a direct convolution computed in Double, over odd channel and filter
/// counts, image sizes (partial tiles), kernel sizes, strides, dilations and paddings, with the
/// epilogue.
@Suite struct ConvolutionKernelTests {
    struct Case: CustomStringConvertible, Sendable {
        let h: Int, w: Int, c: Int, n: Int, kh: Int, kw: Int, stride: Int, dilation: Int, padding: PaddingSpec
        /// A vertical dilation other than `dilation` (the kernel-row form dilates only vertically).
        var dilationH: Int? = nil
        var dh: Int { dilationH ?? dilation }
        var description: String { "\(h)x\(w)x\(c)->\(n) k\(kh)x\(kw) s\(stride) d\(dh)x\(dilation) \(padding)" }
    }

    static let cases: [Case] = [
        Case(h: 7, w: 9, c: 16, n: 64, kh: 3, kw: 3, stride: 1, dilation: 1, padding: .same),
        Case(h: 8, w: 8, c: 17, n: 10, kh: 3, kw: 3, stride: 2, dilation: 1, padding: .same),
        Case(h: 11, w: 6, c: 33, n: 65, kh: 5, kw: 3, stride: 1, dilation: 2, padding: .same),
        Case(h: 9, w: 9, c: 20, n: 130, kh: 3, kw: 3, stride: 2, dilation: 1, padding: .explicit(top: 0, bottom: 1, left: 0, right: 1)),
        Case(h: 5, w: 12, c: 64, n: 48, kh: 1, kw: 1, stride: 2, dilation: 1, padding: .valid),
        Case(h: 13, w: 13, c: 31, n: 97, kh: 2, kw: 5, stride: 3, dilation: 1, padding: .explicit(top: 2, bottom: 2, left: 1, right: 3)),
        Case(h: 1, w: 1, c: 16, n: 1, kh: 3, kw: 3, stride: 1, dilation: 1, padding: .same),
        // More channels than a K block: each tap's channels in several blocks.
        Case(h: 5, w: 4, c: 400, n: 40, kh: 3, kw: 3, stride: 1, dilation: 1, padding: .same),
        Case(h: 3, w: 7, c: 300, n: 70, kh: 1, kw: 2, stride: 1, dilation: 1, padding: .valid),
        // Between the AVX-512 K block (128) and its whole-tap limit (192): one whole tap per block.
        Case(h: 6, w: 5, c: 150, n: 33, kh: 3, kw: 3, stride: 1, dilation: 1, padding: .same),
    ]

    /// Random operands of a case and their direct convolution in Double (zero padding, taps in
    /// [kh][kw][c] order as Keras' kernel).
    struct Problem {
        let x, kernel, bias, residual: [Float]
        let gh: AxisGeometry, gw: AxisGeometry
        let direct: [Double]

        init(_ t: Case, seed: UInt64) throws {
            var rng = SplitMix(seed: seed)
            x = (0..<(t.h * t.w * t.c)).map { _ in rng.uniform() }
            kernel = (0..<(t.kh * t.kw * t.c * t.n)).map { _ in rng.uniform() }
            bias = (0..<t.n).map { _ in rng.uniform() }
            let window = Window(rank: 2, kh: t.kh, kw: t.kw, sh: t.stride, sw: t.stride, dh: t.dh, dw: t.dilation, padding: t.padding)
            (gh, gw) = try window.geometry(h: t.h, w: t.w)
            let pixels = gh.output * gw.output
            residual = (0..<(pixels * t.n)).map { _ in rng.uniform() }
            var direct = [Double](repeating: 0, count: pixels * t.n)
            for oy in 0..<gh.output {
                for ox in 0..<gw.output {
                    for ky in 0..<t.kh {
                        let iy = oy * gh.stride - gh.padBefore + ky * gh.dilation
                        if iy < 0 || iy >= t.h { continue }
                        for kx in 0..<t.kw {
                            let ix = ox * gw.stride - gw.padBefore + kx * gw.dilation
                            if ix < 0 || ix >= t.w { continue }
                            for ci in 0..<t.c {
                                let v = Double(x[(iy * t.w + ix) * t.c + ci])
                                let row = ((ky * t.kw + kx) * t.c + ci) * t.n
                                for j in 0..<t.n { direct[(oy * gw.output + ox) * t.n + j] += v * Double(kernel[row + j]) }
                            }
                        }
                    }
                }
            }
            self.direct = direct
        }

        /// The first element of `got` off the direct convolution + bias (+ residual), then the
        /// activation, by more than float rounding over k products allows.
        func firstMismatch(_ got: [Float], activation: Activation, residual withResidual: Bool, k: Int) -> (offset: Int, got: Float, want: Float)? {
            let n = bias.count
            var want = direct.indices.map { i in Float(direct[i]) + bias[i % n] + (withResidual ? residual[i] : 0) }
            let rows = want.count / n
            want.withUnsafeMutableBufferPointer { wp in
                applyEpilogue(EpilogueArgs(bias: nil, residual: nil, activation: activation), wp.baseAddress!, rows: rows, cols: n, ldc: n, math: nil)
            }
            let tolerance = 1e-5 * Float(k).squareRoot() * 4
            return zip(got, want).enumerated().first { !(abs($0.element.0 - $0.element.1) <= tolerance * max(1, abs($0.element.1))) }
                .map { ($0.offset, $0.element.0, $0.element.1) }
        }
    }

    @Test("every tier matches a direct convolution", arguments: cases)
    func tiersMatchReference(_ t: Case) throws {
        let problem = try Problem(t, seed: UInt64(t.h * 7919 + t.w * 104729 + t.c * 31 + t.n))
        let (x, kernel, bias, residual, gh, gw) = (problem.x, problem.kernel, problem.bias, problem.residual, problem.gh, problem.gw)
        let k = t.kh * t.kw * t.c, pixels = gh.output * gw.output
        for tier in ISATier.supported {
            let table = KernelTable.make(tier)
            let packed = try kernel.withUnsafeBufferPointer {
                try PackedMatrix($0.baseAddress!, k: k, n: t.n, ldb: t.n, panelWidth: table.packWidth(t.n))
            }
            let padded = try paddedBias(bias, panelWidth: table.panelWidth)
            let zeros = try AlignedBuffer(count: t.c)
            let pointers = UnsafeMutablePointer<UnsafePointer<Float>>.allocate(capacity: max(1, pixels * t.kh * t.kw))
            defer { pointers.deallocate() }
            for act in [Activation.linear, .relu6, .swish] {
                for withResidual in [false, true] {
                    var got = [Float](repeating: .nan, count: pixels * t.n)
                    x.withUnsafeBufferPointer { xp in
                        residual.withUnsafeBufferPointer { rp in
                            got.withUnsafeMutableBufferPointer { gp in
                                // Two pieces, as two threads would run them.
                                let half = pixels / 2
                                for rows in [0..<half, half..<pixels] {
                                    indirectionTable(xp.baseAddress!, channels: t.c, zeros: zeros.pointer, h: gh, w: gw,
                                                     table: pointers, pixels: rows)
                                    table.convGemm(table: pointers, taps: t.kh * t.kw, cin: t.c, b: packed, c: gp.baseAddress!, ldc: t.n,
                                                   bias: UnsafePointer(padded.pointer), residual: withResidual ? rp.baseAddress! : nil,
                                                   activation: act, rows: rows)
                                }
                            }
                        }
                    }
                    let bad = problem.firstMismatch(got, activation: act, residual: withResidual, k: k)
                    #expect(bad == nil, "\(tier) \(t) \(act) residual \(withResidual): element \(bad?.offset ?? -1) is \(bad?.got ?? 0), want \(bad?.want ?? 0)")
                }
            }
        }
    }

    static let kernelRowCases: [Case] = [
        Case(h: 28, w: 28, c: 1, n: 32, kh: 3, kw: 3, stride: 1, dilation: 1, padding: .valid),
        Case(h: 9, w: 7, c: 1, n: 17, kh: 3, kw: 3, stride: 1, dilation: 1, padding: .same),
        Case(h: 12, w: 11, c: 3, n: 64, kh: 7, kw: 7, stride: 2, dilation: 1, padding: .explicit(top: 3, bottom: 3, left: 3, right: 3)),
        Case(h: 10, w: 9, c: 3, n: 33, kh: 3, kw: 3, stride: 2, dilation: 1, padding: .same),
        Case(h: 8, w: 13, c: 5, n: 10, kh: 3, kw: 5, stride: 3, dilation: 1, padding: .explicit(top: 0, bottom: 2, left: 4, right: 1)),
        Case(h: 11, w: 6, c: 15, n: 65, kh: 3, kw: 2, stride: 1, dilation: 1, padding: .same, dilationH: 2),
        // A kernel wider than the padded image's interior: every column is an edge.
        Case(h: 4, w: 3, c: 2, n: 8, kh: 2, kw: 5, stride: 1, dilation: 1, padding: .same),
        Case(h: 1, w: 1, c: 4, n: 3, kh: 3, kw: 3, stride: 1, dilation: 1, padding: .same),
    ]

    @Test("every tier's kernel-row convolution (few channels) matches a direct convolution", arguments: kernelRowCases)
    func kernelRowsMatchReference(_ t: Case) throws {
        let problem = try Problem(t, seed: UInt64(t.h * 13 + t.w * 101 + t.c * 7 + t.n))
        let (x, kernel, bias, residual, gh, gw) = (problem.x, problem.kernel, problem.bias, problem.residual, problem.gh, problem.gw)
        let k = t.kh * t.kw * t.c, pixels = gh.output * gw.output
        let span = KernelRowSpan(gw)
        let run = t.kw * t.c
        for tier in ISATier.supported {
            let table = KernelTable.make(tier)
            let packed = try kernel.withUnsafeBufferPointer {
                try PackedMatrix($0.baseAddress!, k: k, n: t.n, ldb: t.n, panelWidth: table.packWidth(t.n))
            }
            let padded = try paddedBias(bias, panelWidth: table.panelWidth)
            let zeros = try AlignedBuffer(count: run)
            let pointers = UnsafeMutablePointer<UnsafePointer<Float>>.allocate(capacity: max(1, pixels * t.kh))
            let patches = [Float](repeating: .nan, count: max(1, gh.output * span.edges * t.kh * run))
            defer { pointers.deallocate() }
            for (act, withResidual) in [(Activation.linear, false), (.relu, true), (.swish, false)] {
                var got = [Float](repeating: .nan, count: pixels * t.n)
                var slots = patches
                x.withUnsafeBufferPointer { xp in
                    residual.withUnsafeBufferPointer { rp in
                        got.withUnsafeMutableBufferPointer { gp in
                            slots.withUnsafeMutableBufferPointer { sp in
                                // Three pieces that start and end inside output rows, as threads would run them.
                                let a = pixels / 3, b = 2 * pixels / 3 + 1
                                for rows in [0..<min(a, pixels), min(a, pixels)..<min(b, pixels), min(b, pixels)..<pixels] {
                                    kernelRowTable(xp.baseAddress!, channels: t.c, zeros: zeros.pointer, h: gh, w: gw, span: span,
                                                   table: pointers, patches: sp.baseAddress!, pixels: rows)
                                    table.convGemm(table: pointers, taps: t.kh, cin: run, b: packed, c: gp.baseAddress!, ldc: t.n,
                                                   bias: UnsafePointer(padded.pointer), residual: withResidual ? rp.baseAddress! : nil,
                                                   activation: act, rows: rows)
                                }
                            }
                        }
                    }
                }
                let bad = problem.firstMismatch(got, activation: act, residual: withResidual, k: k)
                #expect(bad == nil, "\(tier) \(t) \(act) residual \(withResidual): element \(bad?.offset ?? -1) is \(bad?.got ?? 0), want \(bad?.want ?? 0)")
            }
        }
    }

    static let winogradCases: [Case] = [
        Case(h: 9, w: 11, c: 16, n: 64, kh: 3, kw: 3, stride: 1, dilation: 1, padding: .same),
        Case(h: 14, w: 14, c: 17, n: 33, kh: 3, kw: 3, stride: 1, dilation: 1, padding: .same),
        Case(h: 13, w: 10, c: 40, n: 130, kh: 3, kw: 3, stride: 1, dilation: 1, padding: .valid),
        Case(h: 8, w: 8, c: 20, n: 16, kh: 3, kw: 3, stride: 1, dilation: 1, padding: .explicit(top: 2, bottom: 0, left: 0, right: 1)),
    ]

    @Test("every tier's Winograd F(4x4, 3x3) and F(2x2, 3x3) transforms match a direct convolution",
          arguments: winogradCases, [Winograd.f4x4, Winograd.f2x2])
    func winogradMatchesReference(_ t: Case, _ variant: Winograd.Variant) throws {
        let problem = try Problem(t, seed: UInt64(t.h * 31 + t.w * 17 + t.c * 7 + t.n))
        let (x, kernel, bias, residual, gh, gw, direct) = (problem.x, problem.kernel, problem.bias, problem.residual,
                                                           problem.gh, problem.gw, problem.direct)
        let k = 9 * t.c, pixels = gh.output * gw.output
        let edge = variant.m, products = variant.products
        let tilesW = (gw.output + edge - 1) / edge, tiles = ((gh.output + edge - 1) / edge) * tilesW
        for tier in ISATier.supported {
            let table = KernelTable.make(tier)
            let (input, output) = table.winogradKernels(variant)
            let u = try kernel.withUnsafeBufferPointer {
                try Winograd.transformWeights($0.baseAddress!, cin: t.c, cout: t.n, table: table, variant: variant)
            }
            #expect(u.count == products)
            let padded = try paddedBias(bias, panelWidth: table.panelWidth)
            var v = [Float](repeating: .nan, count: products * tiles * t.c), m = [Float](repeating: .nan, count: products * tiles * t.n)
            var got = [Float](repeating: .nan, count: pixels * t.n)
            x.withUnsafeBufferPointer { xp in
                v.withUnsafeMutableBufferPointer { vp in
                    // Two pieces of tiles, as two threads would run them.
                    for r in [0..<(tiles / 2), (tiles / 2)..<tiles] {
                        input(xp.baseAddress!, t.h, t.w, t.c, gh.padBefore, gw.padBefore, tilesW, tiles, vp.baseAddress!,
                              r.lowerBound, r.upperBound)
                    }
                }
            }
            v.withUnsafeBufferPointer { vp in
                m.withUnsafeMutableBufferPointer { mp in
                    for e in 0..<products {
                        table.gemm(m: tiles, a: vp.baseAddress! + e * tiles * t.c, lda: t.c, b: u[e], c: mp.baseAddress! + e * tiles * t.n,
                                   ldc: t.n, bias: nil, residual: nil, activation: .linear)
                    }
                }
            }
            residual.withUnsafeBufferPointer { rp in
                var e = dl_epilogue(bias: UnsafePointer(padded.pointer), residual: rp.baseAddress!, ld_residual: t.n,
                                    activation: Int32(DL_ACT_CLAMP), lo: -1, hi: 6, flags: 0)
                m.withUnsafeBufferPointer { mp in
                    got.withUnsafeMutableBufferPointer { gp in
                        output(mp.baseAddress!, tiles, t.n, tilesW, gh.output, gw.output, gp.baseAddress!, &e, 0, tiles)
                    }
                }
            }
            let want = direct.indices.map { i in min(max(Float(direct[i]) + bias[i % t.n] + residual[i], -1), 6) }
            let tolerance: Float = 2e-5 * Float(k).squareRoot() * 4
            let bad = zip(got, want).enumerated().first { !(abs($0.element.0 - $0.element.1) <= tolerance * max(1, abs($0.element.1))) }
            #expect(bad == nil, "\(tier) \(t) F(\(edge)x\(edge)): element \(bad?.offset ?? -1) is \(bad?.element.0 ?? 0), want \(bad?.element.1 ?? 0)")
            let x2 = x.indices.map { $0 == 5 ? Float.infinity : x[$0] }
            #expect(x2.withUnsafeBufferPointer { table.allFinite($0.baseAddress!, $0.count) } == false, "\(tier): an infinity is seen")
            #expect(x.withUnsafeBufferPointer { table.allFinite($0.baseAddress!, $0.count) }, "\(tier): finite data is finite")
        }
    }

    /// Few 4x4 output tiles and over 1 MB of F(4x4) weights: the conv runs through F(2x2, 3x3)
    /// (the fixture's Keras output is checked by KerasFixtureTests at every tier); a large image
    /// or small weights keep F(4x4, 3x3).
    /// F(2x2) with fewer than `winograd2x2MinTiles` tiles and over 1 MB of weights (ResNet's 7x7
    /// layers) runs as an indirect GEMM; the same conv on 14x14 keeps F(2x2).
    @Test func fewTilesWithLargeWeightsSkipWinograd() throws {
        for (side, winograd) in [(7, false), (14, true)] {
            var h = GraphHarness()
            let x = h.input([-1, side, side, 256])
            let p = ConvParams(window: Window(rank: 2, kh: 3, kw: 3, sh: 1, sw: 1, padding: .same), groups: 1,
                               weights: h.const([3, 3, 256, 256]), epilogue: Epilogue())
            h.output(try h.add(.conv(p), [x]))
            let convs = try Compiler.compile(h.g).ops.compactMap { $0 as? ConvOp }
            #expect(convs.count == 1 && convs[0].winograd.isEmpty == !winograd
                    && convs[0].label.contains(winograd ? "winograd2x2" : "indirect gemm") && convs[0].label.contains("winograd") == winograd,
                    "\(side)x\(side): \(convs.map(\.label))")
        }
    }

    @Test func winogradVariantFollowsTilesAndWeights() throws {
        let model = try Model(path: "\(Fixtures.root)/keras3_conv2d_winograd2x2_h5/model.h5")
        let convs = model.compiled.ops.compactMap { $0 as? ConvOp }
        #expect(convs.count == 1 && convs[0].winograd.count == 16 && convs[0].winogradVariant == Winograd.f2x2,
                "\(convs.map { ($0.label, $0.winograd.count) })")
        #expect(convs.first?.label.contains("winograd2x2") == true)
        var checked = 0
        for name in ["keras3_resnet_small", "keras3_cnn_classic"] {
            let m = try Fixtures.manifest(name)
            let other = try Model(path: "\(Fixtures.root)/\(name)/\(m.model)")
            for op in other.compiled.ops.compactMap({ $0 as? ConvOp }) where !op.winograd.isEmpty {
                #expect(op.winogradVariant == Winograd.f4x4 && op.winograd.count == 36, "\(name): \(op.label)")
                checked += 1
            }
        }
        #expect(checked > 0, "the small-weight fixtures have Winograd convolutions to check")
    }

    @Test("every tier's im2col matches the reference, with groups, dilation and padding")
    func im2colMatchesReference() throws {
        // (h, w, c, c0, cg, kh, kw, stride, dilation, padding)
        let cases: [(Int, Int, Int, Int, Int, Int, Int, Int, Int, PaddingSpec)] = [
            (9, 7, 1, 0, 1, 3, 3, 1, 1, .same), (8, 8, 3, 0, 3, 7, 7, 2, 1, .same), (6, 11, 8, 3, 5, 3, 2, 1, 2, .valid),
            (5, 5, 20, 0, 20, 3, 3, 2, 1, .explicit(top: 1, bottom: 0, left: 2, right: 1)), (4, 13, 33, 0, 33, 1, 5, 3, 1, .same),
        ]
        var rng = SplitMix(seed: 5)
        for (h, w, c, c0, cg, kh, kw, stride, dilation, padding) in cases {
            let x = (0..<(h * w * c)).map { _ in rng.uniform() }
            let window = Window(rank: 2, kh: kh, kw: kw, sh: stride, sw: stride, dh: dilation, dw: dilation, padding: padding)
            let (gh, gw) = try window.geometry(h: h, w: w)
            let pixels = gh.output * gw.output, rowLen = kh * kw * cg
            var want = [Float](repeating: .nan, count: pixels * rowLen)
            x.withUnsafeBufferPointer { xp in
                want.withUnsafeMutableBufferPointer { im2col(xp.baseAddress!, channels: c, c0: c0, cg: cg, h: gh, w: gw, cols: $0.baseAddress!) }
            }
            for tier in ISATier.supported {
                var got = [Float](repeating: .nan, count: pixels * rowLen)
                x.withUnsafeBufferPointer { xp in
                    got.withUnsafeMutableBufferPointer { gp in
                        for r in [0..<(pixels / 3), (pixels / 3)..<pixels] {
                            KernelTable.make(tier).im2col(xp.baseAddress!, h, w, c, c0, cg, kh, kw, stride, stride, dilation, dilation,
                                                          gh.padBefore, gw.padBefore, gw.output, gp.baseAddress!, r.lowerBound, r.upperBound)
                        }
                    }
                }
                #expect(got == want, "\(tier) \(h)x\(w)x\(c) c0 \(c0) cg \(cg) k\(kh)x\(kw) s\(stride) d\(dilation) \(padding)")
            }
        }
    }
}
