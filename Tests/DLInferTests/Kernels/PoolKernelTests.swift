@testable import DLInfer
import CDLInferCPU
import Testing

/// Every pooling tier the machine runs against the reference loop (pool2d), with odd channel
/// counts, windows, strides and TensorFlow's SAME padding, and NaN inputs for max pooling. Max
/// pooling must match bit for bit (the kernels see each window's taps in the reference's order).
@Suite struct PoolKernelTests {
    struct Case: CustomStringConvertible, Sendable {
        let h: Int, w: Int, c: Int, k: Int, stride: Int, same: Bool
        var description: String { "\(h)x\(w)x\(c) k\(k) s\(stride) \(same ? "same" : "valid")" }
    }

    static let cases: [Case] = [
        Case(h: 7, w: 9, c: 1, k: 2, stride: 2, same: false), Case(h: 112, w: 112, c: 64, k: 3, stride: 2, same: true),
        Case(h: 11, w: 6, c: 17, k: 3, stride: 1, same: true), Case(h: 9, w: 9, c: 33, k: 3, stride: 2, same: false),
        Case(h: 5, w: 12, c: 100, k: 5, stride: 3, same: true),
        // Rows wide enough for the four-pixel path: its two-vector, one-vector and masked blocks.
        Case(h: 26, w: 26, c: 32, k: 2, stride: 2, same: false), Case(h: 6, w: 23, c: 20, k: 3, stride: 1, same: true),
        Case(h: 4, w: 17, c: 49, k: 2, stride: 1, same: false),
    ]

    @Test("every tier matches the reference", arguments: cases)
    func tiersMatchReference(_ t: Case) throws {
        var rng = SplitMix(seed: UInt64(t.h * 131 + t.w * 17 + t.c * 7 + t.k))
        var x = (0..<(t.h * t.w * t.c)).map { _ in rng.uniform() }
        x[x.count / 2] = .nan
        let window = Window(rank: 2, kh: t.k, kw: t.k, sh: t.stride, sw: t.stride, padding: t.same ? .same : .valid)
        let (gh, gw) = try window.geometry(h: t.h, w: t.w)
        let count = gh.output * gw.output * t.c
        for kind in [PoolKind.max, .average] {
            var want = [Float](repeating: 0, count: count)
            x.withUnsafeBufferPointer { xp in
                want.withUnsafeMutableBufferPointer { pool2d(xp.baseAddress!, channels: t.c, h: gh, w: gw, kind: kind, out: $0.baseAddress!) }
            }
            for tier in ISATier.supported {
                var got = [Float](repeating: 7, count: count)
                x.withUnsafeBufferPointer { xp in
                    got.withUnsafeMutableBufferPointer { gp in
                        var d = dl_pool(input: xp.baseAddress!, output: gp.baseAddress!, h: Int64(t.h), w: Int64(t.w), c: Int64(t.c),
                                        oh: Int64(gh.output), ow: Int64(gw.output), kh: Int64(t.k), kw: Int64(t.k),
                                        sh: Int64(t.stride), sw: Int64(t.stride), pad_top: Int64(gh.padBefore), pad_left: Int64(gw.padBefore),
                                        is_max: kind == .max ? 1 : 0)
                        let half = gh.output / 2
                        KernelTable.make(tier).pool(&d, 0, half)
                        KernelTable.make(tier).pool(&d, half, gh.output)
                    }
                }
                let tolerance: Float = kind == .max ? 0 : 1e-6
                let bad = zip(got, want).enumerated().first { !($0.element.0 == $0.element.1 || ($0.element.0.isNaN && $0.element.1.isNaN)
                                                                 || abs($0.element.0 - $0.element.1) <= tolerance) }
                #expect(bad == nil, "\(tier) \(t) \(kind): element \(bad?.offset ?? -1) is \(bad?.element.0 ?? 0), want \(bad?.element.1 ?? 0)")
                #expect(got.contains { $0.isNaN } == want.contains { $0.isNaN }, "\(tier) \(t) \(kind): NaN propagates as in the reference")
            }
        }
    }
}
