@testable import DLInfer
import Glibc
import Testing

/// Every tier's elementwise transcendentals (MathKernels) against a Double reference: odd
/// lengths (masked tails), a sweep over the whole float range by bit pattern, ranges where each
/// function is delicate (near exp's overflow and underflow, subnormals, huge values) and the
/// special values, which must come out exactly as Keras gives them. Then softmax and
/// LayerNormalization through compiled graphs at every tier.
@Suite struct MathKernelTests {
    enum Kind: String, CaseIterable, CustomStringConvertible, Sendable {
        case exp, sigmoid, tanh, erf, swish, gelu, geluTanh
        var description: String { rawValue }

        func kernel(_ m: MathKernels) -> UnaryKernel {
            switch self {
            case .exp: return m.exp
            case .sigmoid: return m.sigmoid
            case .tanh: return m.tanh
            case .erf: return m.erf
            case .swish: return m.swish
            case .gelu: return m.gelu
            case .geluTanh: return m.geluTanh
            }
        }

        /// The exact value (in Double), in forms without cancellation; special values included
        /// (swish and gelu of -inf are -inf * 0 = NaN, as in Keras).
        func reference(_ x: Double) -> Double {
            func sigmoid(_ v: Double) -> Double { v >= 0 ? 1 / (1 + Glibc.exp(-v)) : Glibc.exp(v) / (1 + Glibc.exp(v)) }
            switch self {
            case .exp: return Glibc.exp(x)
            case .sigmoid: return sigmoid(x)
            case .tanh: return Glibc.tanh(x)
            case .erf: return Glibc.erf(x)
            case .swish: return x * sigmoid(x)
            case .gelu: return 0.5 * x * Glibc.erfc(-x / 2.0.squareRoot())
            case .geluTanh: return x * sigmoid(2 * 0.7978845608028654 * (x + 0.044715 * x * x * x))
            }
        }

        /// Allowed |got - reference| at x: rel * |reference| + floor. The vector kernels' bounds
        /// are a few ulp (the measured maxima are printed); the scalar tier is glibc with the
        /// formulas of Unary.swift, whose 0.5 x (1 + erf) and 1 / (1 + exp(-x)) lose the tails.
        func tolerance(_ x: Double, vector: Bool) -> (rel: Double, floor: Double) {
            let subnormalUlp = Double(Float.leastNonzeroMagnitude)
            if vector {
                switch self {
                case .exp, .sigmoid, .tanh: return (4e-7, subnormalUlp)
                case .swish: return (4e-7, 2 * subnormalUlp)
                case .erf: return (1e-6, 2 * subnormalUlp)
                case .gelu: return (1e-6, 16 * subnormalUlp)
                case .geluTanh:
                    // The float32 rounding of the exp argument 2u (a few ulp of it) shows in the
                    // far negative tail, where the result is exp(2u)-small.
                    let s = Swift.abs(2 * 0.7978845608028654 * (x + 0.044715 * x * x * x))
                    return (1e-6 + (x < 0 ? 3e-7 * s : 0), 16 * subnormalUlp)
                }
            }
            let floatMin = Double(Float.leastNormalMagnitude)
            switch self {
            case .exp, .tanh, .erf: return (2.5e-7, subnormalUlp)
            case .sigmoid: return (4e-7, floatMin)
            case .swish: return (4e-7, Swift.abs(x) * floatMin + subnormalUlp)
            case .gelu, .geluTanh: return (1e-6, Swift.abs(x) * 1.5e-7 + floatMin)
            }
        }
    }

    static let lengths = [1, 3, 15, 17, 33, 1031]

    /// Runs `kind` at `tier` over xs (through a buffer with guard floats after it) and returns
    /// the worst error relative to the allowed one, with the offending input.
    static func check(_ kind: Kind, _ tier: ISATier, _ xs: [Float], inPlace: Bool = false) -> (worst: Double, at: Float, got: Float, maxRel: Double, maxRelAt: Float) {
        let guardCount = 19
        var out = [Float](repeating: 12345, count: xs.count + guardCount)
        let kernel = kind.kernel(KernelTable.make(tier).math)
        if inPlace {
            out.replaceSubrange(0..<xs.count, with: xs)
            out.withUnsafeMutableBufferPointer { kernel($0.baseAddress!, $0.baseAddress!, xs.count) }
        } else {
            xs.withUnsafeBufferPointer { s in out.withUnsafeMutableBufferPointer { kernel(s.baseAddress!, $0.baseAddress!, xs.count) } }
        }
        var worst = 0.0, at: Float = 0, got: Float = 0, maxRel = 0.0, maxRelAt: Float = 0
        for (i, x) in xs.enumerated() {
            let y = out[i], want = kind.reference(Double(x))
            let bad: Double
            if want.isNaN || !want.isFinite {
                bad = (want.isNaN ? y.isNaN : Double(y) == want) ? 0 : .infinity
            } else if !y.isFinite {
                // An overflow is right where the allowed error reaches past the largest float.
                let (rel, _) = kind.tolerance(Double(x), vector: tier != .scalar)
                let reaches = Swift.abs(want) * (1 + rel) >= Double(Float.greatestFiniteMagnitude)
                bad = y.isInfinite && (y > 0) == (want > 0) && reaches ? 0 : .infinity
            } else {
                let err = Swift.abs(Double(y) - want)
                let (rel, floor) = kind.tolerance(Double(x), vector: tier != .scalar)
                bad = err / (rel * Swift.abs(want) + floor)
                if Swift.abs(want) >= Double(Float.leastNormalMagnitude), err / Swift.abs(want) > maxRel { maxRel = err / Swift.abs(want); maxRelAt = x }
            }
            if bad > worst || (bad.isNaN && !worst.isNaN) { worst = bad; at = x; got = y }
        }
        if out[xs.count...].contains(where: { $0 != 12345 }) { return (.infinity, .nan, .nan, maxRel, maxRelAt) }  // wrote past the end
        return (worst, at, got, maxRel, maxRelAt)
    }

    static func expectWithin(_ kind: Kind, _ tier: ISATier, _ xs: [Float], _ what: String, inPlace: Bool = false) {
        let r = check(kind, tier, xs, inPlace: inPlace)
        #expect(r.worst <= 1, "\(tier) \(kind) \(what): f(\(r.at)) = \(r.got), want \(kind.reference(Double(r.at))) (\(r.worst) x the allowed error)")
    }

    @Test("odd lengths, random data", arguments: Kind.allCases)
    func oddLengths(_ kind: Kind) {
        var rng = SplitMix(seed: 11)
        for tier in ISATier.supported {
            for n in Self.lengths {
                let xs = (0..<n).map { _ in rng.uniform() * 8 }
                Self.expectWithin(kind, tier, xs, "n=\(n)")
                Self.expectWithin(kind, tier, xs, "n=\(n) in place", inPlace: true)
            }
        }
    }

    /// About a million floats spread evenly over all bit patterns (both signs, every binade,
    /// subnormals, infinities and NaNs), then dense sweeps of [-20, 20] and of exp's edges.
    static func sweep() -> [Float] {
        var xs: [Float] = []
        var b: UInt64 = 0
        while b <= UInt64(UInt32.max) { xs.append(Float(bitPattern: UInt32(b))); b += 4093 }
        for i in 0..<200_001 { xs.append(-20 + 40 * Float(i) / 200_000) }
        for i in 0..<20_001 {
            xs.append(88 + Float(i) / 20_000)          // exp's overflow at 88.7228
            xs.append(-86 - 20 * Float(i) / 20_000)    // exp's underflow into the subnormals, to 0 at -103.97
        }
        return xs
    }

    @Test("whole float range and the delicate ranges", arguments: Kind.allCases)
    func wholeRange(_ kind: Kind) {
        let xs = Self.sweep()
        for tier in ISATier.supported {
            let r = Self.check(kind, tier, xs)
            #expect(r.worst <= 1, "\(tier) \(kind): f(\(r.at)) = \(r.got), want \(kind.reference(Double(r.at))) (\(r.worst) x the allowed error)")
            print("math \(tier) \(kind): max relative error \(r.maxRel) at \(r.maxRelAt) (\(r.maxRel / Double(Float.ulpOfOne)) ulp of 1); worst \(r.worst) of the bound, at \(r.at)")
        }
    }

    @Test("tiny, huge and subnormal inputs, and the special values", arguments: Kind.allCases)
    func specialValues(_ kind: Kind) {
        var rng = SplitMix(seed: 5)
        var xs: [Float] = [.nan, -.nan, .infinity, -.infinity, 0, -0.0, .greatestFiniteMagnitude, -.greatestFiniteMagnitude,
                           .leastNormalMagnitude, -.leastNormalMagnitude, .leastNonzeroMagnitude, -.leastNonzeroMagnitude,
                           88.72283, 88.72284, -87.33654, -103.97, -104, 1e-30, -1e-30, 0.5, -0.5, 0.625, -0.625,
                           Float(bitPattern: 0x7FC0_1234), Float(bitPattern: 0xFFA0_0001)]
        for _ in 0..<300 {
            let magnitude = Float(Glibc.pow(10, Double(rng.uniform() * 38)))
            xs.append(rng.uniform() < 0 ? -magnitude : magnitude)
            xs.append(Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()) & 0x807F_FFFF))  // subnormals of both signs
            xs.append(rng.uniform() * 100)
        }
        for tier in ISATier.supported {
            Self.expectWithin(kind, tier, xs, "specials")
            // Special values must be exact (the comparison above only lets them through if so).
            let kernel = kind.kernel(KernelTable.make(tier).math)
            var y = [Float](repeating: 0, count: 4)
            [Float.nan, .infinity, -.infinity, 0].withUnsafeBufferPointer { s in y.withUnsafeMutableBufferPointer { kernel(s.baseAddress!, $0.baseAddress!, 4) } }
            #expect(y[0].isNaN, "\(tier) \(kind)(NaN) = \(y[0])")
            for (i, x) in [Double.infinity, -.infinity].enumerated() {
                let want = kind.reference(x)
                #expect(want.isNaN ? y[i + 1].isNaN : Double(y[i + 1]) == want, "\(tier) \(kind)(\(x)) = \(y[i + 1]), want \(want)")
            }
        }
    }

    /// The bounds are tight enough to catch a wrong kernel: a kernel off by 2e-6 relative (or
    /// the scalar reference with a coarse polynomial) fails them.
    @Test("the bounds reject a slightly wrong kernel")
    func boundsAreTight() {
        for kind in Kind.allCases {
            let (rel, _) = kind.tolerance(1.25, vector: true)
            #expect(rel <= 1e-6, "\(kind): the bound is loose")
            let want = kind.reference(1.25)
            #expect(Swift.abs(want * (1 + 2e-6) - want) > rel * Swift.abs(want), "\(kind)")
        }
    }

    // MARK: softmax and LayerNormalization through compiled graphs

    static func run(_ g: IRGraph, _ x: [Float], shape: [Int], tier: ISATier) throws -> [Float] {
        let model = try Compiler.compile(g, kernels: KernelTable.make(tier))
        let plan = try Plan(model: model, inputShapes: [shape])
        x.withUnsafeBufferPointer { plan.inputViews[0].f32.update(from: $0.baseAddress!, count: x.count) }
        plan.execute(profile: false)
        let v = plan.outputViews[0]
        return Array(UnsafeBufferPointer(start: v.f32, count: v.count))
    }

    @Test("softmax and log-softmax rows match the reference and sum to 1", arguments: [1, 3, 15, 17, 33, 1001])
    func softmaxRows(_ n: Int) throws {
        var rng = SplitMix(seed: UInt64(n))
        let rows = 5
        var x = (0..<(rows * n)).map { _ in rng.uniform() * 30 }
        x[0] = 80  // a dominant entry in row 0: the others underflow
        for log in [false, true] {
            var h = GraphHarness()
            let input = h.input([-1, n])
            h.output(try h.add(.softmax(axis: -1, log: log), [input]))
            for tier in ISATier.supported {
                let y = try Self.run(h.g, x, shape: [rows, n], tier: tier)
                // The scalar tier sums in order in float; the vector tiers in lanes.
                let tol = tier == .scalar ? 2e-5 : 2e-6
                for r in 0..<rows {
                    let row = x[(r * n)..<(r * n + n)].map(Double.init)
                    let m = row.max()!
                    let sum = row.reduce(0) { $0 + Glibc.exp($1 - m) }
                    var total = 0.0
                    for k in 0..<n {
                        let got = Double(y[r * n + k])
                        if log {
                            let want = row[k] - m - Glibc.log(sum)
                            #expect(Swift.abs(got - want) <= tol * Swift.max(1, Swift.abs(want)), "\(tier) log n=\(n) row \(r) [\(k)]: \(got), want \(want)")
                            total += Glibc.exp(got)
                        } else {
                            // x - max is rounded to float first (relative error of exp: |x - max| ulp).
                            let want = Glibc.exp(row[k] - m) / sum
                            #expect(Swift.abs(got - want) <= (tol + 6e-8 * (m - row[k])) * want + 1e-37, "\(tier) n=\(n) row \(r) [\(k)]: \(got), want \(want)")
                            total += got
                        }
                    }
                    #expect(Swift.abs(total - 1) <= tol * Double(Swift.max(1, n / 64)), "\(tier) \(log ? "log-" : "")softmax n=\(n) row \(r) sums to \(total)")
                }
            }
        }
    }

    @Test("softmax special values: NaN, +-inf and all -inf rows as the scalar loop gives them")
    func softmaxSpecials() throws {
        let n = 19
        var x = [Float](repeating: 0, count: 4 * n)
        for i in 0..<n { x[i] = Float(i) / 4 }
        x[5] = .nan                                          // row 0: all NaN
        x[n + 3] = .infinity                                 // row 1: NaN (inf - inf)
        for i in 0..<n { x[2 * n + i] = -.infinity }         // row 2: all -inf: NaN
        for i in 0..<n { x[3 * n + i] = Float(i) }
        x[3 * n + 7] = -.infinity                            // row 3: exp(-inf) = 0
        for log in [false, true] {
            var h = GraphHarness()
            let input = h.input([-1, n])
            h.output(try h.add(.softmax(axis: -1, log: log), [input]))
            let want = try Self.run(h.g, x, shape: [4, n], tier: .scalar)
            for tier in ISATier.supported {
                let got = try Self.run(h.g, x, shape: [4, n], tier: tier)
                for i in 0..<(4 * n) {
                    let same = (got[i].isNaN && want[i].isNaN) || (!want[i].isFinite && got[i] == want[i])
                        || (want[i].isFinite && Swift.abs(got[i] - want[i]) <= 2e-6 * Swift.max(1, Swift.abs(want[i])))
                    #expect(same, "\(tier) \(log ? "log-" : "")softmax [\(i)]: \(got[i]), scalar \(want[i])")
                }
            }
        }
    }

    @Test("LayerNorm rows match a Double reference", arguments: [1, 3, 15, 17, 33, 1001])
    func layerNormRows(_ n: Int) throws {
        var rng = SplitMix(seed: UInt64(n) &* 31)
        let rows = 4
        // Rows with an offset far larger than their spread: a plain float mean would be off.
        let x = (0..<(rows * n)).map { i in Float(i / n) * 300 - 200 + rng.uniform() * 2 }
        for affine in [false, true] {
            var h = GraphHarness()
            let input = h.input([-1, n])
            let gamma = affine ? h.g.addConstant(ConstTensor(shape: [n], data: (0..<n).map { _ in rng.uniform() * 2 })) : nil
            let beta = affine ? h.g.addConstant(ConstTensor(shape: [n], data: (0..<n).map { _ in rng.uniform() })) : nil
            h.output(try h.add(.layerNorm(LayerNormParams(axes: [-1], epsilon: 1e-3, gamma: gamma, beta: beta)), [input]))
            let gv = gamma.map { h.g.constants[$0].data }, bv = beta.map { h.g.constants[$0].data }
            for tier in ISATier.supported {
                let y = try Self.run(h.g, x, shape: [rows, n], tier: tier)
                for r in 0..<rows {
                    let row = x[(r * n)..<(r * n + n)].map(Double.init)
                    let mean = row.reduce(0, +) / Double(n)
                    let variance = row.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n)
                    let inv = 1 / (variance + 1e-3).squareRoot()
                    // Both tiers subtract the mean rounded to float (as the scalar loop always
                    // did): allow one ulp of it, scaled like the output.
                    let meanUlp = Double(Float(mean).ulp)
                    for k in 0..<n {
                        var want = (row[k] - mean) * inv, slack = meanUlp * inv
                        if let gv { want *= Double(gv[k]); slack *= Swift.abs(Double(gv[k])) }
                        if let bv { want += Double(bv[k]) }
                        let got = Double(y[r * n + k])
                        #expect(Swift.abs(got - want) <= 2e-5 + slack, "\(tier) n=\(n) row \(r) [\(k)]: \(got), want \(want)")
                    }
                }
            }
        }
    }

    @Test("LayerNorm mean and variance kernels, long and odd rows")
    func meanVariance() {
        var rng = SplitMix(seed: 3)
        for n in [1, 2, 15, 17, 33, 1001, 100_003] {
            let x = (0..<n).map { _ in 1000 + rng.uniform() }
            let mean = x.reduce(0.0) { $0 + Double($1) } / Double(n)
            let variance = x.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(n)
            for tier in ISATier.supported {
                let (m, v) = x.withUnsafeBufferPointer { KernelTable.make(tier).math.meanVariance($0.baseAddress!, n) }
                // The vector tiers return the mean rounded to float (LayerNorm subtracts it as a float).
                let slack = tier == .scalar ? 0 : Double(Float(mean).ulp) / 2
                #expect(Swift.abs(m - mean) <= 1e-4 * variance.squareRoot() + slack, "\(tier) n=\(n): mean \(m), want \(mean)")
                #expect(Swift.abs(v - variance) <= 1e-4 * variance + 1e-9, "\(tier) n=\(n): variance \(v), want \(variance)")
            }
        }
    }

    /// The activations go through the vector kernels (applyActivation, applyEpilogue) and give
    /// the scalar loops' results within the kernels' bounds.
    @Test("applyActivation and applyEpilogue use the vector kernels")
    func wiring() {
        var rng = SplitMix(seed: 9)
        let rows = 3, cols = 37, ldc = 41
        let base = (0..<(rows * ldc)).map { _ in rng.uniform() * 6 }
        let bias = (0..<cols).map { _ in rng.uniform() }
        let residual = (0..<(rows * ldc)).map { _ in rng.uniform() }
        for a in [Activation.sigmoid, .tanh, .swish, .gelu(approximate: false), .gelu(approximate: true), .exponential] {
            for tier in ISATier.supported {
                let math: MathKernels? = tier == .scalar ? nil : KernelTable.make(tier).math
                var want = base, got = base
                bias.withUnsafeBufferPointer { b in
                    residual.withUnsafeBufferPointer { r in
                        let args = EpilogueArgs(bias: b.baseAddress!, residual: r.baseAddress!, activation: a)
                        want.withUnsafeMutableBufferPointer { applyEpilogue(args, $0.baseAddress!, rows: rows, cols: cols, ldc: ldc, math: nil) }
                        got.withUnsafeMutableBufferPointer { applyEpilogue(args, $0.baseAddress!, rows: rows, cols: cols, ldc: ldc, math: math) }
                    }
                }
                for i in 0..<(rows * ldc) {
                    #expect(Swift.abs(got[i] - want[i]) <= 1e-6 * Swift.max(1, Swift.abs(want[i])), "\(tier) \(a) epilogue [\(i)]: \(got[i]), want \(want[i])")
                }
                var y = [Float](repeating: 0, count: base.count), z = y
                base.withUnsafeBufferPointer { s in
                    y.withUnsafeMutableBufferPointer { applyActivation(a, s.baseAddress!, $0.baseAddress!, count: base.count, math: math) }
                    z.withUnsafeMutableBufferPointer { applyActivation(a, s.baseAddress!, $0.baseAddress!, count: base.count, math: nil) }
                }
                #expect(zip(y, z).allSatisfy { Swift.abs($0 - $1) <= 1e-6 * Swift.max(1, Swift.abs($1)) }, "\(tier) \(a) applyActivation")
            }
        }
    }
}
