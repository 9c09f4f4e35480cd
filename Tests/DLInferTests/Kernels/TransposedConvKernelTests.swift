@testable import DLInfer
import Testing

/// Every tier's transposed convolution (stride phases as indirect GEMMs, straight into the
/// output or staged, and the few-channel GEMM + gather form, each forced on) against the
/// scatter definition computed in Double: odd channel counts, strides 1-3 (strides larger than
/// the kernel leave phases no tap reaches), kernels 1-5, same/valid padding, output_padding,
/// dilation, Conv1DTranspose, batch 2, with the epilogue and a residual, on one thread and on
/// three (bit for bit the same).
@Suite struct TransposedConvKernelTests {
    struct Case: CustomStringConvertible, Sendable {
        var rank = 2
        var h: Int, w: Int, cin: Int, cout: Int
        var kh: Int, kw: Int, sh: Int, sw: Int
        var dh = 1, dw = 1
        var same: Bool
        var outputPadding: [Int]? = nil   // (h, w)
        var activation = 0                // index into `activations`

        var description: String {
            let k = rank == 1 ? "\(kw)" : "\(kh)x\(kw)", s = rank == 1 ? "\(sw)" : "\(sh)x\(sw)"
            let d = dh == 1 && dw == 1 ? "" : " d\(rank == 1 ? "\(dw)" : "\(dh)x\(dw)")"
            let op = outputPadding.map { " op\($0)" } ?? ""
            return "\(rank)D \(rank == 1 ? "\(w)" : "\(h)x\(w)")x\(cin)->\(cout) k\(k) s\(s)\(d) \(same ? "same" : "valid")\(op) act\(activation)"
        }

        var params: TransposedConvParams {
            let window = Window(rank: rank, kh: kh, kw: kw, sh: sh, sw: sw, dh: dh, dw: dw, padding: same ? .same : .valid)
            return TransposedConvParams(window: window, outputPadding: outputPadding.map { ($0[0], $0[1]) }, weights: 0,
                                        epilogue: Epilogue())
        }
    }

    static let activations: [Activation] = [.linear, .relu6, .swish, .leakyRelu(slope: 0.2)]

    /// Hand-picked cases (the options Keras layers use), then seeded random ones.
    static let cases: [Case] = {
        var list: [Case] = [
            Case(h: 5, w: 6, cin: 17, cout: 17, kh: 3, kw: 3, sh: 2, sw: 2, same: true),
            Case(h: 4, w: 5, cin: 17, cout: 3, kh: 4, kw: 4, sh: 2, sw: 2, same: true, activation: 1),
            Case(h: 5, w: 5, cin: 3, cout: 17, kh: 3, kw: 3, sh: 2, sw: 2, same: false, activation: 2),
            Case(h: 5, w: 5, cin: 17, cout: 1, kh: 3, kw: 3, sh: 2, sw: 2, same: false, outputPadding: [1, 1]),
            Case(h: 4, w: 4, cin: 3, cout: 17, kh: 2, kw: 3, sh: 2, sw: 3, same: true, outputPadding: [1, 2], activation: 3),
            Case(h: 4, w: 5, cin: 17, cout: 3, kh: 5, kw: 5, sh: 3, sw: 3, same: true),
            Case(h: 4, w: 4, cin: 17, cout: 17, kh: 2, kw: 2, sh: 3, sw: 3, same: false, activation: 1),   // phases without taps
            Case(h: 3, w: 4, cin: 3, cout: 17, kh: 1, kw: 1, sh: 3, sw: 2, same: true, activation: 2),     // phases without taps
            Case(h: 4, w: 3, cin: 17, cout: 3, kh: 2, kw: 1, sh: 3, sw: 3, same: false, outputPadding: [2, 2]),  // taps never reach some rows
            Case(h: 6, w: 6, cin: 17, cout: 17, kh: 3, kw: 3, sh: 1, sw: 1, dh: 2, dw: 2, same: true),
            Case(h: 6, w: 5, cin: 3, cout: 3, kh: 3, kw: 2, sh: 1, sw: 1, dh: 2, dw: 3, same: false, activation: 3),
            Case(h: 5, w: 4, cin: 17, cout: 17, kh: 3, kw: 3, sh: 2, sw: 2, dh: 2, dw: 2, same: true),     // accepted by the loader
            Case(h: 7, w: 7, cin: 17, cout: 17, kh: 4, kw: 4, sh: 1, sw: 1, same: true, activation: 2),
            Case(h: 1, w: 1, cin: 17, cout: 17, kh: 3, kw: 3, sh: 2, sw: 2, same: false),
            // Enough phase rows that threads get several staged blocks each.
            Case(h: 8, w: 8, cin: 17, cout: 17, kh: 3, kw: 3, sh: 2, sw: 2, same: true, activation: 2),
            Case(h: 6, w: 6, cin: 17, cout: 17, kh: 2, kw: 2, sh: 3, sw: 3, same: true, activation: 1),
            Case(rank: 1, h: 1, w: 9, cin: 17, cout: 17, kh: 1, kw: 4, sh: 1, sw: 2, same: true, activation: 1),
            Case(rank: 1, h: 1, w: 40, cin: 3, cout: 17, kh: 1, kw: 3, sh: 1, sw: 3, same: false, outputPadding: [0, 2], activation: 2),
            Case(rank: 1, h: 1, w: 7, cin: 17, cout: 1, kh: 1, kw: 5, sh: 1, sw: 1, dh: 1, dw: 2, same: true),
            Case(rank: 1, h: 1, w: 50, cin: 17, cout: 17, kh: 1, kw: 2, sh: 1, sw: 3, same: true),
        ]
        var rng = SplitMix(seed: 2024)
        func pick(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
        let channels = [1, 3, 17]
        for i in 0..<40 {
            let rank = i % 5 == 4 ? 1 : 2
            let sh = rank == 1 ? 1 : 1 + pick(3), sw = 1 + pick(3)
            let kh = rank == 1 ? 1 : 1 + pick(5), kw = 1 + pick(5)
            // Keras allows dilation only with stride 1.
            let dilated = sh == 1 && sw == 1 && pick(2) == 0
            let dh = dilated && rank == 2 ? 1 + pick(2) : 1, dw = dilated ? 1 + pick(2) : 1
            let same = pick(2) == 0
            // Keras wants output_padding below the stride (or the dilation).
            let op: [Int]? = pick(3) == 0 ? [rank == 1 ? 0 : pick(max(sh, dh)), pick(max(sw, dw))] : nil
            list.append(Case(rank: rank, h: rank == 1 ? 1 : 1 + pick(6), w: 1 + pick(rank == 1 ? 20 : 7),
                             cin: channels[pick(3)], cout: channels[pick(3)], kh: kh, kw: kw, sh: sh, sw: sw, dh: dh, dw: dw,
                             same: same, outputPadding: op, activation: pick(activations.count)))
        }
        // Even kernels with `same` and output_padding 0 give an empty output for one-pixel inputs.
        return list.filter { (try? $0.params.axes(h: $0.h, w: $0.w)) != nil }
    }()

    @Test("every tier and form matches the scatter definition", arguments: cases)
    func tiersMatchReference(_ t: Case) throws {
        let batch = 2
        let p = t.params
        let axes = try p.axes(h: t.h, w: t.w)
        let oh = axes.0.length, ow = axes.1.length, padH = axes.0.padBefore, padW = axes.1.padBefore
        var rng = SplitMix(seed: UInt64(t.description.utf8.reduce(7) { $0 &* 31 &+ Int($1) } & 0xffff_ffff))
        let x = (0..<(batch * t.h * t.w * t.cin)).map { _ in rng.uniform() }
        let kernel = (0..<(t.kh * t.kw * t.cout * t.cin)).map { _ in rng.uniform() }   // [kh, kw, cout, cin]
        let bias = (0..<t.cout).map { _ in rng.uniform() }
        let residual = (0..<(batch * oh * ow * t.cout)).map { _ in rng.uniform() }
        // The definition: every input pixel scatters each tap into the output pixel it reaches.
        var direct = [Double](repeating: 0, count: batch * oh * ow * t.cout)
        for img in 0..<batch {
            for iy in 0..<t.h {
                for ix in 0..<t.w {
                    for ky in 0..<t.kh {
                        let oy = iy * t.sh - padH + ky * t.dh
                        if oy < 0 || oy >= oh { continue }
                        for kx in 0..<t.kw {
                            let ox = ix * t.sw - padW + kx * t.dw
                            if ox < 0 || ox >= ow { continue }
                            for co in 0..<t.cout {
                                var s = 0.0
                                for ci in 0..<t.cin {
                                    s += Double(x[((img * t.h + iy) * t.w + ix) * t.cin + ci])
                                        * Double(kernel[((ky * t.kw + kx) * t.cout + co) * t.cin + ci])
                                }
                                direct[((img * oh + oy) * ow + ox) * t.cout + co] += s
                            }
                        }
                    }
                }
            }
        }
        let act = Self.activations[t.activation]
        let tolerance = 1e-5 * Float(t.kh * t.kw * t.cin).squareRoot() * 4
        let pool = try ThreadPool(threads: 3)
        for tier in ISATier.supported {
            let table = KernelTable.make(tier)
            // The phases straight into the output, the phases staged, the few-channel form.
            for (columns, staging) in [(false, false), (false, true), (true, nil)] {
                let conv = try kernel.withUnsafeBufferPointer {
                    try PhasedTransposedConv(kernel: $0.baseAddress!, kh: t.kh, kw: t.kw, cin: t.cin, cout: t.cout,
                                             stride: (t.sh, t.sw), dilation: (t.dh, t.dw), padBefore: (padH, padW), bias: bias,
                                             activation: act, table: table, columns: columns, staging: staging)
                }
                #expect((conv.columns != nil) == columns)
                let form = columns ? "gemm+gather" : staging == true ? "phased, staged" : "phased"
                let bytes = try conv.scratchBytes(h: t.h, w: t.w, oh: oh, ow: ow)
                let scratch = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 64), alignment: 64)
                defer { scratch.deallocate() }
                // (Staging is for runs without a residual: with one the phases run straight.)
                var serial: [Float] = []
                for (withResidual, threads) in [(false, ThreadPool.serial), (false, pool), (true, pool)] {
                    var got = [Float](repeating: .nan, count: direct.count)
                    x.withUnsafeBufferPointer { xp in
                        residual.withUnsafeBufferPointer { rp in
                            got.withUnsafeMutableBufferPointer { gp in
                                threads.beginRun()
                                conv.run(x: xp.baseAddress!, n: batch, h: t.h, w: t.w, y: gp.baseAddress!, oh: oh, ow: ow,
                                         residual: withResidual ? rp.baseAddress! : nil, scratch: bytes > 0 ? scratch : nil, pool: threads)
                            }
                        }
                    }
                    var want = direct.indices.map { i in Float(direct[i]) + bias[i % t.cout] + (withResidual ? residual[i] : 0) }
                    let pixels = want.count / t.cout
                    want.withUnsafeMutableBufferPointer { wp in
                        applyEpilogue(EpilogueArgs(bias: nil, residual: nil, activation: act), wp.baseAddress!, rows: pixels,
                                      cols: t.cout, ldc: t.cout, math: nil)
                    }
                    // Any thread count gives the same bits.
                    if serial.isEmpty { serial = got } else if !withResidual {
                        #expect(got == serial, "\(tier) \(form) \(t): 3 threads differ from one")
                    }
                    let bad = zip(got, want).enumerated().first { !(abs($0.element.0 - $0.element.1) <= tolerance * max(1, abs($0.element.1))) }
                    #expect(bad == nil, "\(tier) \(form) \(t) threads \(threads.threads) residual \(withResidual): element \(bad?.offset ?? -1) of \(want.count) is \(bad?.element.0 ?? 0), want \(bad?.element.1 ?? 0)")
                }
            }
        }
    }

    /// The phase split itself: every tap lands in exactly one phase, at the offset the scatter
    /// definition gives.
    @Test func phasesPartitionTheTaps() {
        for kernel in 1...5 {
            for stride in 1...4 {
                for dilation in 1...3 {
                    for pad in 0...4 {
                        let a = TransposedAxisPhases(kernel: kernel, stride: stride, dilation: dilation, padBefore: pad)
                        #expect(a.taps.flatMap { $0 }.sorted() == Array(0..<kernel))
                        for r in 0..<stride {
                            for (k, off) in zip(a.taps[r], a.offsets[r]) {
                                for j in 0..<3 {
                                    // Input j + off under tap k reaches output r + stride * j.
                                    #expect((j + off) * stride - pad + k * dilation == r + stride * j)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
