import Glibc

/// One run input as raw memory, as the C ABI passes it: row-major data, dtype, shape.
public struct RunInput {
    public var data: UnsafeRawPointer?
    public var dtype: Int32
    public var rank: Int
    public var shape: UnsafePointer<Int64>?

    public init(data: UnsafeRawPointer?, dtype: Int32, rank: Int, shape: UnsafePointer<Int64>?) {
        self.data = data
        self.dtype = dtype
        self.rank = rank
        self.shape = shape
    }
}

/// A borrowed output of the last run: valid until the session's next run or release.
public struct OutputView {
    public let shape: [Int]
    public let data: UnsafePointer<Float>
    public let count: Int
}

public struct SessionOptions {
    /// Record the time of every op (read with `profile()`); costs two clock reads per op.
    public var profile = false
    /// Intra-op threads of the session (the caller's plus threads - 1 workers); 1 by default.
    public var threads = 1
    public static let maxThreads = 256
    public init(profile: Bool = false, threads: Int = 1) {
        self.profile = profile
        self.threads = threads
    }
}

/// Time spent in one op over the profiled runs.
public struct ProfileEntry {
    public let op: String
    public let layers: [String]
    public let seconds: Double
    public let runs: Int
    public let flopsPerRun: Double
    /// Bytes of the weights the op reads, at least once a run (OpPlan.weightBytes).
    public let weightBytesPerRun: Int
}

/// Where runs happen: one per thread. Owns a plan (steps bound into one activation arena) per
/// distinct input shape; after the first run with a shape, running allocates nothing.
public final class Session {
    public let model: Model
    public let options: SessionOptions
    private let pool: ThreadPool
    private var plans: [Plan] = []
    private var last: Plan?
    private var hasOutputs = false
    static let maxCachedPlans = 8

    public init(model: Model, options: SessionOptions = SessionOptions()) throws {
        guard options.threads >= 1 && options.threads <= SessionOptions.maxThreads else {
            throw DLError(.invalidArgument, "threads must be between 1 and \(SessionOptions.maxThreads), got \(options.threads)")
        }
        self.model = model
        self.options = options
        pool = options.threads == 1 ? .serial : try ThreadPool(threads: options.threads)
    }

    /// Validates the inputs, plans on a new shape, copies the inputs into the arena and runs.
    public func run(_ inputs: UnsafeBufferPointer<RunInput>) throws {
        hasOutputs = false
        let ports = model.inputs
        guard inputs.count == ports.count else {
            throw DLError.shape("model takes \(ports.count) input(s), got \(inputs.count)")
        }
        for (i, input) in inputs.enumerated() {
            let port = ports[i]
            guard input.rank >= 0 && input.rank <= 8 else { throw DLError(.invalidArgument, "input \(i): rank \(input.rank) out of range") }
            guard input.rank == 0 || input.shape != nil else { throw DLError(.invalidArgument, "input \(i): shape is NULL") }
            var n = 1
            for d in 0..<input.rank {
                let dim = input.shape![d]
                guard dim >= 0 else { throw DLError.shape("input \(i) ('\(port.name)') has a negative dimension in \(shapeOf(input).described)") }
                let (p, o) = n.multipliedReportingOverflow(by: Int(dim))
                guard !o, p <= maxElements else { throw DLError.shape("input \(i) ('\(port.name)') shape \(shapeOf(input).described) is too large") }
                n = p
            }
            guard n > 0 else { throw DLError.shape("input \(i) ('\(port.name)') is empty (shape \(shapeOf(input).described))") }
            guard input.data != nil else { throw DLError(.invalidArgument, "input \(i): data is NULL") }
            guard let dtype = DType(rawValue: input.dtype) else { throw DLError(.dtype, "input \(i): unknown dtype \(input.dtype)") }
            guard dtype == port.dtype else {
                throw DLError(.dtype, "input \(i) ('\(port.name)') expects \(port.dtype == .int32 ? "int32" : "float32"), got \(dtype == .int32 ? "int32" : "float32")")
            }
        }
        let plan = try self.plan(for: inputs)
        // Sleeping workers wake while the inputs are copied.
        if plan.usesThreads { pool.beginRun() }
        for (i, input) in inputs.enumerated() {
            let v = plan.inputViews[i]
            v.data.copyMemory(from: input.data!, byteCount: v.count * 4)
        }
        plan.execute(profile: options.profile)
        hasOutputs = true
    }

    /// Whether the last run's plan used the session's threads (small runs stay on the caller's).
    var usesThreads: Bool { last?.usesThreads ?? false }

    private func shapeOf(_ input: RunInput) -> [Int] { (0..<input.rank).map { Int(input.shape![$0]) } }

    private func plan(for inputs: UnsafeBufferPointer<RunInput>) throws -> Plan {
        if let p = last, p.matches(inputs) { return p }
        if let i = plans.firstIndex(where: { $0.matches(inputs) }) {
            last = plans[i]
            return plans[i]
        }
        let shapes = inputs.map(shapeOf)
        var batch: Int?
        for (s, port) in zip(shapes, model.inputs) {
            guard s.count == port.shape.count, zip(s, port.shape).allSatisfy({ $1 < 0 ? $0 >= 0 : $0 == $1 }) else {
                throw DLError.shape("input '\(port.name)' expects shape \(port.shape.described), got \(s.described)")
            }
            if let b = batch, let first = s.first, b != first {
                throw DLError.shape("inputs disagree on batch size: \(b) vs \(first) for '\(port.name)'")
            }
            batch = s.first
        }
        let p = try Plan(model: model.compiled, inputShapes: shapes, pool: pool)
        if plans.count >= Session.maxCachedPlans { plans.removeFirst() }
        plans.append(p)
        last = p
        return p
    }

    public var outputCount: Int { model.outputs.count }

    /// Output `index` of the last successful run (nil before one, or after a failed run).
    public func output(_ index: Int) -> OutputView? {
        guard hasOutputs, let p = last, index >= 0, index < p.outputViews.count else { return nil }
        let v = p.outputViews[index]
        return OutputView(shape: v.shape, data: UnsafePointer(v.f32), count: v.count)
    }

    /// Convenience for Swift callers: runs on arrays and returns copies of the outputs.
    public func run(_ inputs: [(shape: [Int], data: InputData)]) throws -> [Tensor] {
        let shapes = inputs.map { $0.shape.map { Int64($0) } }
        func bind(_ i: Int, _ acc: [RunInput]) throws {
            if i == inputs.count {
                try acc.withUnsafeBufferPointer { try run($0) }
                return
            }
            try shapes[i].withUnsafeBufferPointer { s in
                switch inputs[i].data {
                case .float32(let d):
                    guard d.count == inputs[i].shape.reduce(1, &*) else {
                        throw DLError.shape("input \(i): \(d.count) values for shape \(inputs[i].shape)")
                    }
                    try d.withUnsafeBytes { try bind(i + 1, acc + [RunInput(data: $0.baseAddress, dtype: DType.float32.rawValue, rank: s.count, shape: s.baseAddress)]) }
                case .int32(let d):
                    guard d.count == inputs[i].shape.reduce(1, &*) else {
                        throw DLError.shape("input \(i): \(d.count) values for shape \(inputs[i].shape)")
                    }
                    try d.withUnsafeBytes { try bind(i + 1, acc + [RunInput(data: $0.baseAddress, dtype: DType.int32.rawValue, rank: s.count, shape: s.baseAddress)]) }
                }
            }
        }
        try bind(0, [])
        return (0..<outputCount).map { i in
            let o = output(i)!
            return Tensor(shape: o.shape, data: Array(UnsafeBufferPointer(start: o.data, count: o.count)))
        }
    }

    /// Per-op times summed over the profiled runs of the current plan, slowest first.
    public func profile() -> [ProfileEntry] {
        guard let p = last else { return [] }
        let g = model.compiled.graph
        return p.steps.enumerated().map { i, s in
            ProfileEntry(op: s.op.label, layers: g.nodes[s.node].origin, seconds: Double(p.stepNanos[i]) / 1e9,
                         runs: p.profiledRuns, flopsPerRun: s.flops, weightBytesPerRun: s.weightBytes)
        }.sorted { $0.seconds > $1.seconds }
    }

    public func resetProfile() {
        for p in plans {
            p.stepNanos.update(repeating: 0, count: max(p.steps.count, 1))
            p.profiledRuns = 0
        }
    }

    /// Bytes of activation memory of the current plan.
    public var arenaBytes: Int { last?.arenaBytes ?? 0 }
}

/// A run input as Swift arrays (for `Session.run(_:)` convenience).
public enum InputData {
    case float32([Float])
    case int32([Int32])
}
