/// What planning an op for concrete input shapes yields.
struct OpPlan {
    var outputs: [Shape]
    var scratchBytes = 0
    /// Memory of the op's own that keeps its contents from one run of the plan to the next
    /// (zeroed when the plan is made): for state built on the first run, such as a table of
    /// addresses into the plan's arena.
    var persistentBytes = 0
    var flops: Double = 0
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

/// Storage relation of an op's output to its first input, for the memory planner.
enum OutputStorage {
    case own        // a buffer of its own
    case view       // the input's buffer, reinterpreted (reshape)
    case inPlace    // may overwrite the input when the input dies here
}

extension Op {
    var outputStorage: OutputStorage {
        switch self {
        case .reshape, .identity: return .view
        default: return canRunInPlace ? .inPlace : .own
        }
    }
}

extension CompiledOp {
    func plan(_ inputs: [Shape], threads: Int) throws -> OpPlan { try plan(inputs) }
}
