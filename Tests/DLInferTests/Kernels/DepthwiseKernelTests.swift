@testable import DLInfer
import CDLInferCPU
import Testing

/// Every depthwise tier the machine runs against the reference loop (depthwiseConv, then the
/// epilogue), over odd channel counts, kernel sizes, strides, dilations and paddings.
@Suite struct DepthwiseKernelTests {
    struct Case: CustomStringConvertible, Sendable {
        let h: Int, w: Int, c: Int, k: Int, stride: Int, dilation: Int, padding: PaddingSpec
        var description: String { "\(h)x\(w)x\(c) k\(k) s\(stride) d\(dilation) \(padding)" }
    }

    static let cases: [Case] = [
        Case(h: 7, w: 9, c: 1, k: 3, stride: 1, dilation: 1, padding: .same),
        Case(h: 8, w: 8, c: 3, k: 3, stride: 2, dilation: 1, padding: .same),
        Case(h: 11, w: 6, c: 17, k: 5, stride: 1, dilation: 2, padding: .same),
        Case(h: 9, w: 9, c: 64, k: 3, stride: 2, dilation: 1, padding: .explicit(top: 0, bottom: 1, left: 0, right: 1)),
        Case(h: 5, w: 12, c: 100, k: 3, stride: 1, dilation: 1, padding: .valid),
        Case(h: 13, w: 13, c: 33, k: 5, stride: 2, dilation: 1, padding: .explicit(top: 2, bottom: 2, left: 1, right: 3)),
        // Wide rows: the four-pixels-at-once 3x3 path, with dilation and a partial last block.
        Case(h: 6, w: 21, c: 48, k: 3, stride: 1, dilation: 2, padding: .same),
        Case(h: 7, w: 30, c: 20, k: 3, stride: 2, dilation: 1, padding: .valid),
        // Eight pixels at once (AVX-512, stride 1 and 2), then four, then one, at both edges.
        Case(h: 5, w: 40, c: 35, k: 3, stride: 1, dilation: 1, padding: .same),
        Case(h: 6, w: 43, c: 16, k: 3, stride: 2, dilation: 1, padding: .same),
    ]

    /// The reference loop (depthwiseConv, then the epilogue) on the case's input.
    static func reference(_ t: Case, _ x: [Float], _ kernel: [Float], bias: AlignedBuffer, residual: [Float]?,
                          _ act: Activation, _ gh: AxisGeometry, _ gw: AxisGeometry) -> [Float] {
        var want = [Float](repeating: 0, count: gh.output * gw.output * t.c)
        x.withUnsafeBufferPointer { xp in
            kernel.withUnsafeBufferPointer { kp in
                want.withUnsafeMutableBufferPointer { wp in
                    depthwiseConv(xp.baseAddress!, channels: t.c, multiplier: 1, h: gh, w: gw, kernel: kp.baseAddress!, out: wp.baseAddress!)
                    (residual ?? []).withUnsafeBufferPointer { rp in
                        applyEpilogue(EpilogueArgs(bias: UnsafePointer(bias.pointer), residual: residual == nil ? nil : rp.baseAddress!, activation: act),
                                      wp.baseAddress!, rows: gh.output * gw.output, cols: t.c, ldc: t.c, math: nil)
                    }
                }
            }
        }
        return want
    }

    /// One tier's depthwise kernel on the case's input, in two row ranges as threads split them.
    static func run(_ tier: ISATier, _ t: Case, _ x: [Float], _ kernel: [Float], bias: AlignedBuffer, residual: [Float]?,
                    _ act: Activation, _ gh: AxisGeometry, _ gw: AxisGeometry) -> [Float] {
        var got = [Float](repeating: .nan, count: gh.output * gw.output * t.c)
        let r = act.registerEpilogue!
        x.withUnsafeBufferPointer { xp in
            kernel.withUnsafeBufferPointer { kp in
                (residual ?? []).withUnsafeBufferPointer { rp in
                    got.withUnsafeMutableBufferPointer { gp in
                        var d = dl_dwconv(input: xp.baseAddress!, weights: kp.baseAddress!, output: gp.baseAddress!,
                                          h: Int64(t.h), w: Int64(t.w), c: Int64(t.c), oh: Int64(gh.output), ow: Int64(gw.output),
                                          kh: Int64(t.k), kw: Int64(t.k), sh: Int64(t.stride), sw: Int64(t.stride),
                                          dh: Int64(t.dilation), dw: Int64(t.dilation), pad_top: Int64(gh.padBefore), pad_left: Int64(gw.padBefore))
                        var e = dl_epilogue(bias: UnsafePointer(bias.pointer), residual: residual == nil ? nil : rp.baseAddress!,
                                            ld_residual: residual == nil ? 0 : t.c, activation: r.code, lo: r.lo, hi: r.hi, flags: 0)
                        let half = gh.output / 2
                        KernelTable.make(tier).depthwise(&d, &e, 0, half)
                        KernelTable.make(tier).depthwise(&d, &e, half, gh.output)
                    }
                }
            }
        }
        return got
    }

    @Test("every tier matches the reference", arguments: cases)
    func tiersMatchReference(_ t: Case) throws {
        var rng = SplitMix(seed: UInt64(t.h * 7919 + t.w * 104729 + t.c * 31 + t.k))
        let x = (0..<(t.h * t.w * t.c)).map { _ in rng.uniform() }
        let kernel = (0..<(t.k * t.k * t.c)).map { _ in rng.uniform() }
        let bias = (0..<t.c).map { _ in rng.uniform() }
        let window = Window(rank: 2, kh: t.k, kw: t.k, sh: t.stride, sw: t.stride, dh: t.dilation, dw: t.dilation, padding: t.padding)
        let (gh, gw) = try window.geometry(h: t.h, w: t.w)
        let count = gh.output * gw.output * t.c
        let residual = (0..<count).map { _ in rng.uniform() }
        let padded = try paddedBias(bias, panelWidth: 64)
        for act in [Activation.linear, .relu6, .leakyRelu(slope: 0.2)] {
            let want = Self.reference(t, x, kernel, bias: padded, residual: residual, act, gh, gw)
            for tier in ISATier.supported {
                let got = Self.run(tier, t, x, kernel, bias: padded, residual: residual, act, gh, gw)
                let bad = zip(got, want).enumerated().first { !(abs($0.element.0 - $0.element.1) <= 1e-5) }
                #expect(bad == nil, "\(tier) \(t) \(act): element \(bad?.offset ?? -1) is \(bad?.element.0 ?? 0), want \(bad?.element.1 ?? 0)")
            }
        }
    }

    /// NaN and infinite inputs through each path (eight, four and one pixel, the edges) with a
    /// clamp (ReLU6) and a ReLU: a NaN stays NaN, an infinity ends at the bound it passes, as in
    /// the reference (ClampFn keeps NaN). A max/min with the operands swapped would turn the NaNs
    /// into 0 or 6 and fail here.
    @Test("clamp and ReLU keep NaN and hold infinities at the bounds, at every tier", arguments: [cases[8], cases[9]])
    func specialValuesThroughActivations(_ t: Case) throws {
        var rng = SplitMix(seed: 4242)
        var x = (0..<(t.h * t.w * t.c)).map { _ in rng.uniform() }
        // Every 7th value of every 5th pixel: NaN, +inf or -inf in turn.
        let specials: [Float] = [.nan, .infinity, -.infinity]
        var s = 0
        for i in stride(from: 0, to: x.count, by: 5 * t.c + 7) { x[i] = specials[s % 3]; s += 1 }
        let kernel = (0..<(t.k * t.k * t.c)).map { _ in 0.1 + abs(rng.uniform()) }   // positive: infinities keep their sign
        let window = Window(rank: 2, kh: t.k, kw: t.k, sh: t.stride, sw: t.stride, dh: 1, dw: 1, padding: t.padding)
        let (gh, gw) = try window.geometry(h: t.h, w: t.w)
        let padded = try paddedBias([Float](repeating: 0.25, count: t.c), panelWidth: 64)
        for act in [Activation.relu6, .relu] {
            let want = Self.reference(t, x, kernel, bias: padded, residual: nil, act, gh, gw)
            #expect(want.contains { $0.isNaN } && want.contains(6) == (act == .relu6) && want.contains(.infinity) == (act == .relu))
            for tier in ISATier.supported {
                let got = Self.run(tier, t, x, kernel, bias: padded, residual: nil, act, gh, gw)
                let bad = zip(got, want).enumerated().first { e in
                    let (g, w) = e.element
                    return !(g == w || (g.isNaN && w.isNaN) || abs(g - w) <= 1e-5)
                }
                #expect(bad == nil, "\(tier) \(t) \(act): element \(bad?.offset ?? -1) is \(bad?.element.0 ?? 0), want \(bad?.element.1 ?? 0)")
            }
        }
    }
}
