import Glibc

/// Everything one input-shape key needs to run: the steps with their tensors bound into one
/// arena, the input and output views, and per-step profile counters.
final class Plan {
    /// Held so the constants the steps point into outlive the plan.
    let model: CompiledModel
    let inputShapes: [[Int]]
    let steps: [Step]
    let inputViews: [TensorView]
    let outputViews: [TensorView]
    let arenaBytes: Int
    let assignment: MemoryPlanner.Assignment
    private let arena: UnsafeMutableRawPointer
    /// Nanoseconds spent in each step, summed over profiled runs.
    let stepNanos: UnsafeMutablePointer<UInt64>
    var profiledRuns = 0

    /// Activation memory a single plan may use: above this a shape is refused, not attempted.
    static let maxArenaBytes = 1 << 36

    /// Ops with fewer FLOPs than this (a few microseconds of work) run on the calling thread:
    /// handing out pieces and waiting for them would cost more than it saves.
    static let parallelMinFlops = 1e6
    /// A whole run under this many FLOPs (a small model: well under a millisecond) stays on the
    /// calling thread: waking the workers for it costs about what they would save, and a worker
    /// that loses its core mid-run would stall it.
    static let parallelMinTotalFlops = 2e7
    /// Whether any step uses the session's threads (the session wakes them only then).
    let usesThreads: Bool

    init(model: CompiledModel, inputShapes: [[Int]], pool: ThreadPool = .serial) throws {
        self.model = model
        let g = model.graph
        var shapes = [Shape?](repeating: nil, count: g.values.count)
        for (v, info) in g.values.enumerated() where info.constant != nil { shapes[v] = info.shape }
        for (v, s) in zip(g.inputs, inputShapes) { shapes[v] = s }
        var plans: [OpPlan] = []
        for (i, node) in g.nodes.enumerated() {
            let context = "layer '\(node.origin.joined(separator: "', '"))' (\(node.op.kindName))"
            let ins = try node.inputs.map { v -> Shape in
                guard let s = shapes[v] else { throw DLError(.internal, "\(context) reads a value before it is computed") }
                return s
            }
            let p = try withContext(context) { try model.ops[i].plan(ins, threads: pool.threads) }
            guard p.outputs.count == node.outputs.count else { throw DLError(.internal, "\(context): \(p.outputs.count) outputs planned") }
            for (v, s) in zip(node.outputs, p.outputs) {
                guard try checkedCount(s) > 0 else {
                    throw DLError.shape("\(context): output is empty (shape \(s.described)) for input shape(s) \(ins.map { $0.described }.joined(separator: ", "))")
                }
                shapes[v] = s
            }
            plans.append(p)
        }
        let sizes = try shapes.map { s in try checkedMul(try checkedCount(s ?? [0]), 4) }
        let a = try MemoryPlanner.assign(g, sizes: sizes, scratch: plans.map { $0.scratchBytes },
                                         persistent: plans.map { $0.persistentBytes })
        guard a.totalBytes <= Plan.maxArenaBytes else {
            throw DLError.shape("input shape(s) \(inputShapes.map { $0.described }.joined(separator: ", ")) need \(a.totalBytes) bytes of activation memory, more than the limit of \(Plan.maxArenaBytes)")
        }
        // Zeroed: the ops' persistent state starts at zero.
        guard let arena = LargeAllocation.allocate(bytes: max(a.totalBytes, 64), alignment: MemoryPlanner.alignment) else {
            throw DLError.shape("cannot allocate \(a.totalBytes) bytes of activation memory")
        }
        self.arena = arena
        arenaBytes = a.totalBytes
        assignment = a
        self.inputShapes = inputShapes
        func view(_ v: ValueID) -> TensorView {
            let s = shapes[v]!
            let data: UnsafeMutableRawPointer
            if let c = g.values[v].constant { data = UnsafeMutableRawPointer(model.constantData[c]!.pointer) }
            else { data = arena + a.valueOffsets[v]! }
            return TensorView(data: data, shape: s, count: s.reduce(1, *))
        }
        let totalFlops = plans.reduce(0) { $0 + $1.flops }
        usesThreads = pool.threads > 1 && totalFlops >= Plan.parallelMinTotalFlops
        steps = g.nodes.enumerated().map { [usesThreads] i, node in
            Step(op: model.ops[i], node: i, inputs: node.inputs.map(view), outputs: node.outputs.map(view),
                 scratch: a.scratchOffsets[i].map { arena + $0 }, persistent: a.persistentOffsets[i].map { arena + $0 },
                 flops: plans[i].flops, weightBytes: plans[i].weightBytes, aux: plans[i].aux,
                 pool: !usesThreads || (plans[i].flops > 0 && plans[i].flops < Plan.parallelMinFlops) ? .serial : pool)
        }
        inputViews = g.inputs.map(view)
        outputViews = g.outputs.map(view)
        stepNanos = .allocate(capacity: max(steps.count, 1))
        stepNanos.initialize(repeating: 0, count: max(steps.count, 1))
    }

    deinit {
        LargeAllocation.release(arena, bytes: max(arenaBytes, 64))
        stepNanos.deallocate()
    }

    /// Whether `shapes` (rank and dims per input) are this plan's key, read without allocating.
    func matches(_ inputs: UnsafeBufferPointer<RunInput>) -> Bool {
        guard inputs.count == inputShapes.count else { return false }
        for (i, input) in inputs.enumerated() {
            let s = inputShapes[i]
            guard input.rank == s.count else { return false }
            for d in 0..<s.count where Int(input.shape![d]) != s[d] { return false }
        }
        return true
    }

    func execute(profile: Bool) {
        if !profile {
            for s in steps { s.op.run(s) }
            return
        }
        var t0 = timespec(), t1 = timespec()
        for (i, s) in steps.enumerated() {
            clock_gettime(CLOCK_MONOTONIC, &t0)
            s.op.run(s)
            clock_gettime(CLOCK_MONOTONIC, &t1)
            stepNanos[i] += UInt64((t1.tv_sec - t0.tv_sec) * 1_000_000_000 + (t1.tv_nsec - t0.tv_nsec))
        }
        profiledRuns += 1
    }
}
