/// What planning an op for concrete input shapes yields.
struct OpPlan {
    var outputs: [Shape]
    var scratchBytes = 0
    /// Memory of the op's own that keeps its contents from one run of the plan to the next
    /// (zeroed when the plan is made): for state built on the first run, such as a table of
    /// addresses into the plan's arena.
    var persistentBytes = 0
    var flops: Double = 0
    /// Bytes of the weights a run reads at least once (packed kernels, in the form this plan runs them: Winograd's
    /// transformed ones where it runs Winograd, unless an input holds NaN or Inf); biases not counted.
    var weightBytes = 0
    /// Integers `run` needs that are cheaper to derive once per plan (permutations, sizes).
    var aux: [Int] = []
}

/// An op lowered for execution: algorithm chosen and weights packed once per model, shared by
/// every session. `plan` is the only place a run can fail (shapes); `run` never throws and never
/// allocates.
protocol CompiledOp: AnyObject {
    /// The op and its algorithm, for profiles ("conv2d 3x3/2 im2col+gemm").
    var label: String { get }
    func plan(_ inputs: [Shape]) throws -> OpPlan
    /// The same for a session of `threads` threads (for ops whose scratch is per thread).
    func plan(_ inputs: [Shape], threads: Int) throws -> OpPlan
    func run(_ step: Step)
}

/// Storage relation of an op's output to one of its inputs, for the memory planner.
enum OutputStorage: Equatable {
    case own                    // a buffer of its own
    case view                   // the first input's buffer, reinterpreted (reshape)
    case inPlace(input: Int)    // may overwrite that input when it dies here
}

extension Op {
    var outputStorage: OutputStorage {
        switch self {
        case .reshape, .identity: return .view
        // A 1x1 conv's fused residual (its last input) holds the output's shape, and the GEMM reads
        // each element of it in the same tile that then stores that element (also when K runs in
        // blocks: the first block adds it), so the output may take its buffer. The residual is
        // then read and written in one pass instead of read from one buffer and written to another
        // (which also reads the output's lines first): ResNet50's 56x56 64 -> 256 convolutions
        // stream 3.2 MB each way.
        case .conv(let p) where p.isPointwise && p.epilogue.residual: return .inPlace(input: 1)
        default: return canRunInPlace ? .inPlace(input: 0) : .own
        }
    }
}

extension CompiledOp {
    func plan(_ inputs: [Shape], threads: Int) throws -> OpPlan { try plan(inputs) }
}
