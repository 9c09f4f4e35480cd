import CDLInferCPU
import DLInferKernelsAVX2
import DLInferKernelsAVX512
import Glibc

/// Instruction-set tiers with their own kernels, best last.
enum ISATier: String, CaseIterable, Comparable {
    case scalar, avx2, avx512

    static func < (a: ISATier, b: ISATier) -> Bool { allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)! }

    /// The best tier this CPU runs (checked once, from CPUID).
    static let best: ISATier = {
        switch dl_cpu_level() {
        case 4: return .avx512
        case 3: return .avx2
        default: return .scalar
        }
    }()

    /// Tiers the CPU can run, for tests that compare every tier with the reference.
    static var supported: [ISATier] { allCases.filter { $0 <= best } }
}

/// C = A * packed B over rows [rowBegin, rowEnd) and B panels [panelBegin, panelEnd), with the
/// epilogue applied before the store.
typealias SgemmKernel = (_ m: Int, _ n: Int, _ k: Int, _ a: UnsafePointer<Float>, _ lda: Int, _ packedB: UnsafePointer<Float>,
                         _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ epilogue: UnsafePointer<dl_epilogue>,
                         _ rowBegin: Int, _ rowEnd: Int, _ panelBegin: Int, _ panelEnd: Int) -> Void

/// A convolution as an indirect GEMM over output pixels [rowBegin, rowEnd) and B panels
/// [panelBegin, panelEnd): table[p * taps + t] addresses the cin input channels under tap t of
/// pixel p (or cin zeros).
typealias ConvGemmKernel = (_ table: UnsafePointer<UnsafePointer<Float>>, _ taps: Int, _ cin: Int, _ n: Int,
                            _ packedB: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, _ ldc: Int,
                            _ epilogue: UnsafePointer<dl_epilogue>, _ rowBegin: Int, _ rowEnd: Int,
                            _ panelBegin: Int, _ panelEnd: Int) -> Void

typealias WinogradInputKernel = (_ x: UnsafePointer<Float>, _ h: Int, _ w: Int, _ c: Int, _ padTop: Int, _ padLeft: Int,
                                  _ tilesW: Int, _ tiles: Int, _ v: UnsafeMutablePointer<Float>, _ tileBegin: Int, _ tileEnd: Int) -> Void
typealias WinogradOutputKernel = (_ m: UnsafePointer<Float>, _ tiles: Int, _ n: Int, _ tilesW: Int, _ oh: Int, _ ow: Int,
                                  _ y: UnsafeMutablePointer<Float>, _ epilogue: UnsafePointer<dl_epilogue>,
                                  _ tileBegin: Int, _ tileEnd: Int) -> Void

/// Patch rows [pixelBegin, pixelEnd) of one image for channels [c0, c0 + cg) (see im2col).
typealias Im2colKernel = (_ x: UnsafePointer<Float>, _ h: Int, _ w: Int, _ c: Int, _ c0: Int, _ cg: Int,
                          _ kh: Int, _ kw: Int, _ sh: Int, _ sw: Int, _ dh: Int, _ dw: Int, _ padTop: Int, _ padLeft: Int,
                          _ ow: Int, _ cols: UnsafeMutablePointer<Float>, _ pixelBegin: Int, _ pixelEnd: Int) -> Void

typealias DepthwiseKernel = (_ conv: UnsafePointer<dl_dwconv>, _ epilogue: UnsafePointer<dl_epilogue>,
                             _ rowBegin: Int, _ rowEnd: Int) -> Void

typealias PoolKernel = (_ pool: UnsafePointer<dl_pool>, _ rowBegin: Int, _ rowEnd: Int) -> Void

/// dst[i] = f(src[i]) over `count` contiguous floats (src and dst may be the same buffer).
typealias UnaryKernel = (_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ count: Int) -> Void

/// The elementwise transcendentals and the row pieces of softmax and LayerNormalization, per
/// tier: the ISA modules' polynomial kernels (MathAVX512/AVX2.swift, accuracy documented there)
/// or, for the scalar tier, loops over the glibc functions (Kernels/Unary.swift, Ops/AxisOps.swift),
/// which stay the reference.
final class MathKernels {  // a class for the reason KernelTable is one
    let exp, sigmoid, tanh, erf, swish: UnaryKernel
    /// gelu with erf (approximate=False) and with the tanh approximation.
    let gelu, geluTanh: UnaryKernel
    /// Softmax over one contiguous row: the maximum (NaN skipped), the sum of exp(x - shift)
    /// (storing the exponentials unless dst is nil), division by the sum; log-softmax's
    /// (x - max) - log(sum).
    let rowMax: (_ src: UnsafePointer<Float>, _ count: Int) -> Float
    let expShiftSum: (_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>?, _ count: Int, _ shift: Float) -> Float
    let divideBy: (_ p: UnsafeMutablePointer<Float>, _ count: Int, _ d: Float) -> Void
    let subtractTwice: (_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ count: Int, _ a: Float, _ b: Float) -> Void
    /// LayerNormalization over one contiguous row: mean and biased variance, then
    /// dst = (src - mean) * scale [* gamma] [+ beta].
    let meanVariance: (_ src: UnsafePointer<Float>, _ count: Int) -> (mean: Double, variance: Double)
    let normalize: (_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ count: Int, _ mean: Float, _ scale: Float,
                    _ gamma: UnsafePointer<Float>?, _ beta: UnsafePointer<Float>?) -> Void

    init(exp: @escaping UnaryKernel,
         sigmoid: @escaping UnaryKernel,
         tanh: @escaping UnaryKernel,
         erf: @escaping UnaryKernel,
         swish: @escaping UnaryKernel,
         gelu: @escaping UnaryKernel,
         geluTanh: @escaping UnaryKernel,
         rowMax: @escaping (_ src: UnsafePointer<Float>, _ count: Int) -> Float,
         expShiftSum: @escaping (_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>?, _ count: Int, _ shift: Float) -> Float,
         divideBy: @escaping (_ p: UnsafeMutablePointer<Float>, _ count: Int, _ d: Float) -> Void,
         subtractTwice: @escaping (_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ count: Int, _ a: Float, _ b: Float) -> Void,
         meanVariance: @escaping (_ src: UnsafePointer<Float>, _ count: Int) -> (mean: Double, variance: Double),
         normalize: @escaping (_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ count: Int, _ mean: Float, _ scale: Float,
              _ gamma: UnsafePointer<Float>?, _ beta: UnsafePointer<Float>?) -> Void) {
        self.exp = exp
        self.sigmoid = sigmoid
        self.tanh = tanh
        self.erf = erf
        self.swish = swish
        self.gelu = gelu
        self.geluTanh = geluTanh
        self.rowMax = rowMax
        self.expShiftSum = expShiftSum
        self.divideBy = divideBy
        self.subtractTwice = subtractTwice
        self.meanVariance = meanVariance
        self.normalize = normalize
    }

    /// The kernel for an activation that is one of these functions, if it is.
    func kernel(for a: Activation) -> UnaryKernel? {
        switch a {
        case .sigmoid: return sigmoid
        case .tanh: return tanh
        case .swish: return swish
        case .gelu(let approximate): return approximate ? geluTanh : gelu
        case .exponential: return exp
        default: return nil
        }
    }

    static let avx512 = MathKernels(
        exp: avx512Exp, sigmoid: avx512Sigmoid, tanh: avx512Tanh, erf: avx512Erf, swish: avx512Swish, gelu: avx512Gelu,
        geluTanh: avx512GeluTanh, rowMax: avx512RowMax, expShiftSum: avx512ExpShiftSum, divideBy: avx512DivideBy,
        subtractTwice: avx512SubtractTwice,
        meanVariance: { let r = avx512MeanVariance($0, $1); return (Double(r.mean), Double(r.variance)) },
        normalize: avx512Normalize)
    static let avx2 = MathKernels(
        exp: avx2Exp, sigmoid: avx2Sigmoid, tanh: avx2Tanh, erf: avx2Erf, swish: avx2Swish, gelu: avx2Gelu,
        geluTanh: avx2GeluTanh, rowMax: avx2RowMax, expShiftSum: avx2ExpShiftSum, divideBy: avx2DivideBy,
        subtractTwice: avx2SubtractTwice,
        meanVariance: { let r = avx2MeanVariance($0, $1); return (Double(r.mean), Double(r.variance)) },
        normalize: avx2Normalize)
    static let scalar = MathKernels(
        exp: scalarExp, sigmoid: scalarSigmoid, tanh: scalarTanh, erf: scalarErf, swish: scalarSwish, gelu: scalarGelu,
        geluTanh: scalarGeluTanh, rowMax: scalarRowMax, expShiftSum: scalarExpShiftSum, divideBy: scalarDivideBy,
        subtractTwice: scalarSubtractTwice, meanVariance: scalarMeanVariance, normalize: scalarNormalize)
}

/// The kernels of one tier. Filled once; ops keep the table they were compiled for. A class: the
/// ops' closures reach a kernel through it on every run, and copying a struct of closures
/// retained and released each of them (seen in perf as a few % of a small model's run).
final class KernelTable {
    let tier: ISATier
    /// Columns per packed-B panel (the GEMM's register tile width).
    let panelWidth: Int
    /// The panel width the tier's GEMM expects for a B of n columns (narrower for small n).
    let packWidth: (_ n: Int) -> Int
    let sgemm: SgemmKernel
    let convGemm: ConvGemmKernel
    /// Winograd F(4x4, 3x3) and F(2x2, 3x3) transforms (Kernels/Winograd.swift) and the
    /// finiteness check that decides whether they may be used on an input.
    let winogradInput: WinogradInputKernel
    let winogradOutput: WinogradOutputKernel
    let winograd2x2Input: WinogradInputKernel
    let winograd2x2Output: WinogradOutputKernel
    let allFinite: (_ p: UnsafePointer<Float>, _ count: Int) -> Bool
    let im2col: Im2colKernel
    /// Lanes per vector and the FMA throughput probe (Kernels/Peak.swift).
    let lanes: Int
    let fmaProbe: (_ iterations: Int, _ sink: UnsafeMutablePointer<Float>) -> Void
    /// Depthwise convolution with multiplier 1 over output rows [rowBegin, rowEnd).
    let depthwise: DepthwiseKernel
    /// Max or average pooling over output rows [rowBegin, rowEnd).
    let pool: PoolKernel

    init(tier: ISATier, panelWidth: Int, packWidth: @escaping (_ n: Int) -> Int, sgemm: @escaping SgemmKernel, convGemm: @escaping ConvGemmKernel, winogradInput: @escaping WinogradInputKernel, winogradOutput: @escaping WinogradOutputKernel, winograd2x2Input: @escaping WinogradInputKernel, winograd2x2Output: @escaping WinogradOutputKernel, allFinite: @escaping (_ p: UnsafePointer<Float>, _ count: Int) -> Bool, im2col: @escaping Im2colKernel, lanes: Int, fmaProbe: @escaping (_ iterations: Int, _ sink: UnsafeMutablePointer<Float>) -> Void, depthwise: @escaping DepthwiseKernel, pool: @escaping PoolKernel) {
        self.tier = tier
        self.panelWidth = panelWidth
        self.packWidth = packWidth
        self.sgemm = sgemm
        self.convGemm = convGemm
        self.winogradInput = winogradInput
        self.winogradOutput = winogradOutput
        self.winograd2x2Input = winograd2x2Input
        self.winograd2x2Output = winograd2x2Output
        self.allFinite = allFinite
        self.im2col = im2col
        self.lanes = lanes
        self.fmaProbe = fmaProbe
        self.depthwise = depthwise
        self.pool = pool
    }

    /// The input and output transforms of a Winograd variant.
    func winogradKernels(_ v: Winograd.Variant) -> (input: WinogradInputKernel, output: WinogradOutputKernel) {
        v.m == 2 ? (winograd2x2Input, winograd2x2Output) : (winogradInput, winogradOutput)
    }

    /// The tier's transcendentals and softmax / LayerNorm row kernels.
    var math: MathKernels {
        switch tier {
        case .avx512: return .avx512
        case .avx2: return .avx2
        case .scalar: return .scalar
        }
    }

    static func make(_ tier: ISATier) -> KernelTable {
        switch tier {
        case .avx512:
            return KernelTable(tier: tier, panelWidth: avx512PanelWidth, packWidth: avx512PanelWidth(forColumns:), sgemm: avx512Sgemm, convGemm: avx512ConvGemm, winogradInput: avx512WinogradInput, winogradOutput: avx512WinogradOutput, winograd2x2Input: avx512Winograd2x2Input, winograd2x2Output: avx512Winograd2x2Output,
                               allFinite: avx512AllFinite, im2col: avx512Im2col, lanes: avx512Lanes, fmaProbe: avx512FmaProbe, depthwise: avx512Depthwise, pool: avx512Pool)
        case .avx2:
            return KernelTable(tier: tier, panelWidth: avx2PanelWidth, packWidth: avx2PanelWidth(forColumns:), sgemm: avx2Sgemm, convGemm: avx2ConvGemm, winogradInput: avx2WinogradInput, winogradOutput: avx2WinogradOutput, winograd2x2Input: avx2Winograd2x2Input, winograd2x2Output: avx2Winograd2x2Output,
                               allFinite: avx2AllFinite, im2col: avx2Im2col, lanes: avx2Lanes, fmaProbe: avx2FmaProbe, depthwise: avx2Depthwise, pool: avx2Pool)
        case .scalar:
            return KernelTable(tier: tier, panelWidth: scalarPanelWidth, packWidth: { _ in scalarPanelWidth }, sgemm: scalarSgemm, convGemm: scalarConvGemm, winogradInput: scalarWinogradInput, winogradOutput: scalarWinogradOutput, winograd2x2Input: scalarWinograd2x2Input, winograd2x2Output: scalarWinograd2x2Output,
                               allFinite: scalarAllFinite, im2col: scalarIm2col, lanes: 1, fmaProbe: scalarFmaProbe, depthwise: scalarDepthwise, pool: scalarPool)
        }
    }

    /// The tier's vector math kernels for activations and epilogues, nil at the scalar tier (which
    /// keeps the reference loops of Unary.swift).
    var vectorMath: MathKernels? { tier == .scalar ? nil : math }

    /// The best tier, capped by DLINFER_ISA=avx512|avx2|scalar (for reproducibility and tests).
    static let active: Result<KernelTable, DLError> = {
        guard let raw = getenv("DLINFER_ISA") else { return .success(make(ISATier.best)) }
        let name = String(cString: raw).lowercased()
        guard let cap = ISATier(rawValue: name) else {
            return .failure(DLError(.invalidArgument, "DLINFER_ISA=\(name): expected one of avx512, avx2, scalar"))
        }
        return .success(make(min(cap, ISATier.best)))
    }()
}
