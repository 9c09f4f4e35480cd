/// The operations of the IR. Parameters are plain data; weights are constants referenced by id.
enum Op {
    case conv(ConvParams)
    case depthwise(DepthwiseParams)
    /// A depthwise convolution with the 1x1 convolution that alone feeds it and/or the one that
    /// alone reads it (MobileNet's expand, depthwise, project), run together band by band
    /// (Passes/FuseDepthwiseChain.swift). Inputs: the chain's input, then the project's residual.
    case depthwiseChain(DepthwiseChainParams)
    case transposedConv(TransposedConvParams)
    case dense(DenseParams)
    /// x * scale[c] + shift[c] along one axis (inference BatchNormalization, Rescaling, Normalization).
    case affine(AffineParams)
    case unary(Activation)
    /// Two inputs with numpy broadcasting.
    case binary(BinaryKind)
    case softmax(axis: Int, log: Bool)
    case sparsemax(axis: Int)
    case glu(axis: Int)
    case pool(PoolParams)
    case globalPool(PoolKind, rank: Int, keepDims: Bool)
    case reduce(ReduceKind, axes: [Int]?, keepDims: Bool)
    case layerNorm(LayerNormParams)
    /// A change of shape over the same row-major data: executed as a view.
    case reshape(ReshapeSpec)
    case transpose([Int])
    case concat(axis: Int)
    case slice([AxisSlice])
    case spatial(SpatialParams)
    case identity
    /// int32 -> float32, as Keras casts integer inputs to the compute dtype.
    case castToFloat
}

/// Spatial padding of convolutions and pooling: TensorFlow's rules, or explicit amounts
/// (what a folded ZeroPadding becomes).
enum PaddingSpec: Equatable {
    case valid, same, causal
    case explicit(top: Int, bottom: Int, left: Int, right: Int)
}

/// Window geometry of a convolution or pooling, with 1D layers as 2D of height 1.
struct Window: Equatable {
    var rank: Int
    var kh: Int, kw: Int
    var sh: Int, sw: Int
    var dh: Int = 1, dw: Int = 1
    var padding: PaddingSpec
}

/// What runs on a conv/dense accumulator before it is stored: + bias, + the residual input
/// (the op's last input), then the activation.
struct Epilogue: Equatable {
    var bias: ConstID?
    var residual = false
    var activation: Activation = .linear
}

struct ConvParams {
    var window: Window
    var groups: Int
    var weights: ConstID        // [kh, kw, cin / groups, cout]
    var epilogue: Epilogue
    /// A second 1x1 convolution summed into this one's accumulators (FuseShortcut): ResNet's
    /// projection shortcut, `conv(x) + shortcut(s)`, the op's second input being s.
    var shortcut: Shortcut? = nil

    /// A 1x1 unpadded ungrouped convolution of its own input, strided (sh, sw); its bias is
    /// part of the epilogue's.
    struct Shortcut: Equatable {
        var weights: ConstID    // [1, 1, cin of s, cout]
        var sh: Int, sw: Int
    }
}

extension ConvParams {
    /// A 1x1 ungrouped convolution that reads no padding (a 1x1 kernel's "same" adds none), any
    /// stride: each output pixel is one input pixel times the weights.
    var isUnpadded1x1: Bool {
        window.kh == 1 && window.kw == 1 && groups == 1
            && (window.padding == .valid || window.padding == .same || window.padding == .explicit(top: 0, bottom: 0, left: 0, right: 0))
    }

    /// A 1x1 stride-1 unpadded ungrouped convolution: one GEMM over the pixels.
    var isPointwise: Bool { isUnpadded1x1 && window.sh == 1 && window.sw == 1 }

    /// Below this many input channels a tap's row is too short for the indirect GEMM's per-tap
    /// overhead (see ConvOp).
    static let indirectMinChannels = 16

    /// Runs as an indirect GEMM over kernel rows (ConvOp): ungrouped, fewer than
    /// `indirectMinChannels` input channels (`cg`), not 1x1 and no horizontal dilation.
    func runsOverKernelRows(inputChannels cg: Int) -> Bool {
        !isPointwise && groups == 1 && cg < Self.indirectMinChannels && window.dw == 1
    }
}

struct DepthwiseParams {
    var window: Window
    var multiplier: Int
    var weights: ConstID        // [kh, kw, cin, multiplier]
    var epilogue: Epilogue
}

struct DepthwiseChainParams {
    var expand: ConvParams?   // 1x1 stride 1 unpadded, or run over kernel rows; one group, no residual
    var depthwise: DepthwiseParams   // 2D, multiplier 1, no residual
    var project: ConvParams?   // 1x1, stride 1, no padding, one group; may take a residual
    /// Expanded floats a band holds (per thread).
    var bandFloats: Int
    /// Regions of output rows per thread (tests raise it so that threads take bands from other
    /// threads' regions even when they run at one speed, or with one thread).
    var regionsPerThread = 1
}

struct TransposedConvParams {
    var window: Window          // padding .valid or .same
    var outputPadding: (h: Int, w: Int)?
    var weights: ConstID        // [kh, kw, cout, cin]
    var epilogue: Epilogue
}

struct DenseParams {
    var weights: ConstID        // [in, units]
    var epilogue: Epilogue
}

struct AffineParams {
    var axis: Int
    var scale: ConstID          // length 1 (broadcast) or the axis size
    var shift: ConstID
}

enum BinaryKind: Equatable {
    case add, subtract, multiply, divide, power, maximum, minimum
    /// x < 0 ? x * alpha : x (PReLU, alpha the second input).
    case prelu
    /// x + y * k (CustomScaleLayer).
    case addScaled(Float)
}

enum PoolKind { case max, average }

struct PoolParams {
    var kind: PoolKind
    var window: Window
}

enum ReduceKind { case sum, mean, max, min }

struct LayerNormParams {
    var axes: [Int]
    var epsilon: Float
    var gamma: ConstID?
    var beta: ConstID?
}

enum ReshapeSpec: Equatable {
    /// Keras Flatten: keep the batch, merge the rest.
    case flatten
    /// Keras Reshape: target without the batch, at most one -1.
    case keepBatch([Int])
    /// ops.reshape / tf.reshape: the whole target, at most one -1.
    case full([Int])
    case expandDims([Int])
    case squeeze([Int]?)
}

/// Python slicing of one axis: x[start:stop:step], or x[index] (which drops the axis).
struct AxisSlice: Equatable {
    var start: Int?, stop: Int?, step: Int?
    var index: Int?

    /// The first kept position, the step and the count along an axis of `size` (slice.indices).
    func range(_ size: Int) throws -> (first: Int, step: Int, count: Int) {
        if let index {
            let i = index < 0 ? index + size : index
            guard i >= 0 && i < size else { throw DLError.shape("index \(index) out of range for size \(size)") }
            return (i, 1, 1)
        }
        let st = step ?? 1
        guard st != 0 else { throw DLError.shape("slice step 0") }
        func clampStart(_ v: Int?, _ dflt: Int) -> Int {
            guard var v else { return dflt }
            if v < 0 { v += size }
            return st > 0 ? Swift.min(Swift.max(v, 0), size) : Swift.min(Swift.max(v, -1), size - 1)
        }
        let lo = clampStart(start, st > 0 ? 0 : size - 1)
        let hi = clampStart(stop, st > 0 ? size : -1)
        let count = st > 0 ? Swift.max(0, (hi - lo + st - 1) / st) : Swift.max(0, (lo - hi - st - 1) / -st)
        return (lo, st, count)
    }
}

struct SpatialParams {
    enum Kind: Equatable {
        case pad(top: Int, bottom: Int, left: Int, right: Int)
        case crop(top: Int, bottom: Int, left: Int, right: Int)
        case upsampleNearest(Int, Int)
        case upsampleBilinear(Int, Int)
    }
    var rank: Int
    var kind: Kind
}

extension Op {
    /// The constants an op reads besides its value inputs.
    var constants: [ConstID] {
        switch self {
        case .conv(let p): return [p.weights] + (p.epilogue.bias.map { [$0] } ?? []) + (p.shortcut.map { [$0.weights] } ?? [])
        case .depthwise(let p): return [p.weights] + (p.epilogue.bias.map { [$0] } ?? [])
        case .depthwiseChain(let p):
            return (p.expand.map { Op.conv($0).constants } ?? []) + Op.depthwise(p.depthwise).constants
                + (p.project.map { Op.conv($0).constants } ?? [])
        case .transposedConv(let p): return [p.weights] + (p.epilogue.bias.map { [$0] } ?? [])
        case .dense(let p): return [p.weights] + (p.epilogue.bias.map { [$0] } ?? [])
        case .affine(let p): return [p.scale, p.shift]
        case .layerNorm(let p): return [p.gamma, p.beta].compactMap { $0 }
        default: return []
        }
    }

    var epilogue: Epilogue? {
        switch self {
        case .conv(let p): return p.epilogue
        case .depthwise(let p): return p.epilogue
        case .transposedConv(let p): return p.epilogue
        case .dense(let p): return p.epilogue
        default: return nil
        }
    }

    /// The same op with its epilogue replaced (ops without one are returned unchanged).
    func with(epilogue e: Epilogue) -> Op {
        switch self {
        case .conv(var p): p.epilogue = e; return .conv(p)
        case .depthwise(var p): p.epilogue = e; return .depthwise(p)
        case .transposedConv(var p): p.epilogue = e; return .transposedConv(p)
        case .dense(var p): p.epilogue = e; return .dense(p)
        default: return self
        }
    }

    /// Elementwise ops whose output may overwrite their first input.
    var canRunInPlace: Bool {
        switch self {
        case .unary, .affine, .binary, .softmax: return true
        default: return false
        }
    }

    /// Short kind name for profiles and dumps.
    var kindName: String {
        switch self {
        case .conv(let p): return p.window.rank == 1 ? "conv1d" : "conv2d"
        case .depthwise: return "depthwise"
        case .depthwiseChain(let p):
            return (p.expand.map { $0.isPointwise ? "conv2d_1x1+" : "conv2d+" } ?? "") + "depthwise" + (p.project == nil ? "" : "+conv2d_1x1")
        case .transposedConv: return "conv_transpose"
        case .dense: return "dense"
        case .affine: return "affine"
        case .unary(let a): return "unary:\(a.name)"
        case .binary(let k): return "binary:\(k)"
        case .softmax(_, let log): return log ? "log_softmax" : "softmax"
        case .sparsemax: return "sparsemax"
        case .glu: return "glu"
        case .pool(let p): return p.kind == .max ? "max_pool" : "avg_pool"
        case .globalPool(let k, rank: _, keepDims: _): return k == .max ? "global_max_pool" : "global_avg_pool"
        case .reduce(let k, axes: _, keepDims: _): return "reduce_\(k)"
        case .layerNorm: return "layer_norm"
        case .reshape: return "reshape"
        case .transpose: return "transpose"
        case .concat: return "concat"
        case .slice: return "slice"
        case .spatial(let p):
            switch p.kind {
            case .pad: return "zero_pad"
            case .crop: return "crop"
            case .upsampleNearest, .upsampleBilinear: return "upsample"
            }
        case .identity: return "identity"
        case .castToFloat: return "cast_f32"
        }
    }
}
