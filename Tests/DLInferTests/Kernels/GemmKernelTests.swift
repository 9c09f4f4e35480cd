@testable import DLInfer
import CDLInferCPU
import Testing

/// Every GEMM tier the machine runs against a plain triple loop, on random data with sizes that
/// are not multiples of the register tile, with every epilogue.
@Suite struct GemmKernelTests {
    struct Case: CustomStringConvertible, Sendable {
        let m: Int, n: Int, k: Int
        var description: String { "\(m)x\(n)x\(k)" }
    }

    static let sizes: [Case] = [
        Case(m: 1, n: 1, k: 1), Case(m: 1, n: 1000, k: 37), Case(m: 2, n: 17, k: 3), Case(m: 5, n: 63, k: 17),
        Case(m: 6, n: 64, k: 384), Case(m: 7, n: 65, k: 385), Case(m: 13, n: 130, k: 800), Case(m: 50, n: 16, k: 9),
        Case(m: 31, n: 3, k: 1000), Case(m: 196, n: 96, k: 576), Case(m: 9, n: 40, k: 33), Case(m: 27, n: 70, k: 5), Case(m: 50, n: 200, k: 64),
        // One panel whose B fits in L1: K over 128 in one block (AVX-512).
        Case(m: 23, n: 24, k: 144), Case(m: 11, n: 48, k: 190),
        // One panel, B beyond L1, short K: one block, each tile fetching the next tile's A rows.
        Case(m: 29, n: 64, k: 256), Case(m: 13, n: 40, k: 300),
        // One row (the GEMV kernels: k in several accumulators, a remainder, K blocks that accumulate).
        Case(m: 1, n: 10, k: 1600), Case(m: 1, n: 33, k: 803), Case(m: 1, n: 130, k: 517),
        // A beyond L2 over several panels: rows in blocks of 144, 144 and 13, each over all panels.
        Case(m: 301, n: 130, k: 1801),
    ]

    static let activations: [Activation] = [.linear, .relu, .relu6, .leakyRelu(slope: 0.1), .sigmoid,
                                            .reluGeneral(maxValue: 2.5, negativeSlope: 0, threshold: 0)]

    private func reference(_ c: Case, _ a: [Float], _ b: [Float], bias: [Float]?, residual: [Float]?, _ act: Activation) -> [Float] {
        var y = [Float](repeating: 0, count: c.m * c.n)
        for i in 0..<c.m {
            for j in 0..<c.n {
                var s: Double = 0
                for kk in 0..<c.k { s += Double(a[i * c.k + kk]) * Double(b[kk * c.n + j]) }
                y[i * c.n + j] = Float(s) + (bias?[j] ?? 0) + (residual?[i * c.n + j] ?? 0)
            }
        }
        let count = y.count
        y.withUnsafeMutableBufferPointer { applyActivation(act, $0.baseAddress!, $0.baseAddress!, count: count, math: nil) }
        return y
    }

    @Test("every tier matches the reference", arguments: sizes)
    func tiersMatchReference(_ c: Case) throws {
        var rng = SplitMix(seed: UInt64(c.m * 1_000_003 + c.n * 1009 + c.k))
        let a = (0..<(c.m * c.k)).map { _ in rng.uniform() }
        let b = (0..<(c.k * c.n)).map { _ in rng.uniform() }
        let bias = (0..<c.n).map { _ in rng.uniform() }
        let residual = (0..<(c.m * c.n)).map { _ in rng.uniform() }
        for tier in ISATier.supported {
            let table = KernelTable.make(tier)
            let packed = try b.withUnsafeBufferPointer { try PackedMatrix($0.baseAddress!, k: c.k, n: c.n, ldb: c.n, panelWidth: table.packWidth(c.n)) }
            let padded = try paddedBias(bias, panelWidth: table.panelWidth)
            for (index, act) in Self.activations.enumerated() {
                let withBias = index % 2 == 0, withResidual = index % 3 != 1
                let want = reference(c, a, b, bias: withBias ? bias : nil, residual: withResidual ? residual : nil, act)
                var got = [Float](repeating: .nan, count: c.m * c.n)
                a.withUnsafeBufferPointer { ap in
                    residual.withUnsafeBufferPointer { rp in
                        got.withUnsafeMutableBufferPointer { gp in
                            table.gemm(m: c.m, a: ap.baseAddress!, lda: c.k, b: packed, c: gp.baseAddress!, ldc: c.n,
                                       bias: withBias ? UnsafePointer(padded.pointer) : nil,
                                       residual: withResidual ? rp.baseAddress! : nil, activation: act)
                        }
                    }
                }
                let tolerance = 1e-5 * Float(c.k).squareRoot() * 4
                let bad = zip(got, want).enumerated().first { !(abs($0.element.0 - $0.element.1) <= tolerance) }
                #expect(bad == nil, "\(tier) \(c) \(act): element \(bad?.offset ?? -1) is \(bad?.element.0 ?? 0), want \(bad?.element.1 ?? 0)")
                guard withResidual else { continue }
                // C over its own residual (a 1x1 conv writing in place, Op.outputStorage), K in blocks or not.
                var over = residual
                a.withUnsafeBufferPointer { ap in
                    over.withUnsafeMutableBufferPointer { op in
                        table.gemm(m: c.m, a: ap.baseAddress!, lda: c.k, b: packed, c: op.baseAddress!, ldc: c.n,
                                   bias: withBias ? UnsafePointer(padded.pointer) : nil, residual: UnsafePointer(op.baseAddress!), activation: act)
                    }
                }
                let badOver = zip(over, want).enumerated().first { !(abs($0.element.0 - $0.element.1) <= tolerance) }
                #expect(badOver == nil, "\(tier) \(c) \(act) over the residual: element \(badOver?.offset ?? -1) is \(badOver?.element.0 ?? 0), want \(badOver?.element.1 ?? 0)")
            }
        }
    }

    @Test func rowRangesAndStridesCompose() throws {
        let m = 23, n = 70, k = 45, ldc = 81
        var rng = SplitMix(seed: 99)
        let a = (0..<(m * k)).map { _ in rng.uniform() }
        let b = (0..<(k * n)).map { _ in rng.uniform() }
        for tier in ISATier.supported {
            let table = KernelTable.make(tier)
            let packed = try b.withUnsafeBufferPointer { try PackedMatrix($0.baseAddress!, k: k, n: n, ldb: n, panelWidth: table.packWidth(n)) }
            var whole = [Float](repeating: -7, count: m * ldc), split = whole
            var e = dl_epilogue(bias: nil, residual: nil, ld_residual: 0, activation: 0, lo: 0, hi: 0, flags: 0)
            a.withUnsafeBufferPointer { ap in
                whole.withUnsafeMutableBufferPointer { w in
                    table.sgemm(m, n, k, ap.baseAddress!, k, packed.data.pointer, w.baseAddress!, ldc, &e, 0, m, 0, packed.panels)
                }
                split.withUnsafeMutableBufferPointer { s in
                    for (lo, hi) in [(0, 5), (5, 6), (6, 17), (17, 23)] {
                        // Rows split four ways, and each row range split by panels, one at a time.
                        for p in 0..<packed.panels {
                            table.sgemm(m, n, k, ap.baseAddress!, k, packed.data.pointer, s.baseAddress!, ldc, &e, lo, hi, p, p + 1)
                        }
                    }
                }
            }
            #expect(whole == split, "\(tier): row ranges and panel ranges give the same result as one call")
            #expect((0..<m).allSatisfy { i in (n..<ldc).allSatisfy { whole[i * ldc + $0] == -7 } }, "\(tier): writes stay inside the columns")
        }
    }

    @Test func tiersOfThisMachine() {
        #expect(ISATier.supported.first == .scalar)
        #expect(ISATier.supported.contains(ISATier.best))
    }
}
