import DLInfer
import Glibc

/// Random inputs in raw memory, bound once into RunInputs so the timed loop only calls `run`.
final class BoundInputs {
    let shapes: [[Int]]
    private let runInputs: UnsafeMutableBufferPointer<RunInput>

    init(ports: [TensorInfo], shapes: [[Int]]) {
        self.shapes = shapes
        runInputs = .allocate(capacity: ports.count)
        var random = XorShift(seed: 0x5EED_1234_ABCD_9876)
        for (i, (port, shape)) in zip(ports, shapes).enumerated() {
            let count = shape.reduce(1, *)
            let data = UnsafeMutableRawPointer.allocate(byteCount: count * 4, alignment: 64)
            switch port.dtype {
            case .float32:
                let values = data.bindMemory(to: Float.self, capacity: count)
                for j in 0..<count { values[j] = random.unitFloat() * 2 - 1 }
            case .int32:
                let values = data.bindMemory(to: Int32.self, capacity: count)
                for j in 0..<count { values[j] = Int32(random.next() % 100) }
            }
            let dims = UnsafeMutablePointer<Int64>.allocate(capacity: shape.count)
            for (d, n) in shape.enumerated() { dims[d] = Int64(n) }
            runInputs[i] = RunInput(data: data, dtype: port.dtype.rawValue, rank: shape.count, shape: dims)
        }
    }

    deinit {
        for input in runInputs {
            UnsafeMutableRawPointer(mutating: input.data)?.deallocate()
            UnsafeMutablePointer(mutating: input.shape)?.deallocate()
        }
        runInputs.deallocate()
    }

    func run(_ session: Session) throws { try session.run(UnsafeBufferPointer(runInputs)) }
}

struct XorShift {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
    /// Uniform in [0, 1) from the top 24 bits (a Float's mantissa).
    mutating func unitFloat() -> Float { Float(next() >> 40) / Float(1 << 24) }
}

func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// Stop after `runs` runs or once `seconds` have elapsed, whichever comes first.
struct RunLimit {
    let runs: Int
    let seconds: Double
}

/// Times each run; shows a `\r`-updated progress line on a terminal's stderr if the loop should take over ~2 s.
func timedRuns(_ limit: RunLimit, expectedSeconds: Double, label: String, _ run: () throws -> Void) throws -> [Double] {
    var latencies: [Double] = []
    latencies.reserveCapacity(min(limit.runs, Options.maxRuns))
    let showProgress = expectedSeconds > 2 && isatty(STDERR_FILENO) != 0
    let start = now()
    var lastShown = start
    var line = ""
    defer { if !line.isEmpty { fputs("\r" + String(repeating: " ", count: line.count) + "\r", stderr) } }
    while latencies.count < limit.runs {
        let t0 = now()
        try run()
        let t1 = now()
        latencies.append(t1 - t0)
        if t1 - start >= limit.seconds { break }
        if showProgress && t1 - lastShown >= 0.25 {
            let elapsed = fixed(t1 - start, 1)
            line = limit.seconds.isFinite ? "\(label): \(latencies.count) runs (\(elapsed) / \(fixed(limit.seconds, 1)) s)"
                                          : "\(label): \(latencies.count) / \(limit.runs) runs (\(elapsed) s)"
            fputs("\r\(line)", stderr)
            lastShown = t1
        }
    }
    return latencies
}

/// The run shape of every input: its --shape if given, else the model's shape with dim 0 = batch.
func resolveShapes(_ model: Model, _ options: Options) throws -> [[Int]] {
    let names = model.inputs.map(\.name)
    for given in options.shapes where !names.contains(given.name) {
        throw Failure(message: "--shape \(given.name): the model has no input named '\(given.name)' (inputs: \(names.joined(separator: ", ")))")
    }
    return try model.inputs.map { port in
        if let given = options.shapes.last(where: { $0.name == port.name })?.shape {
            try check(given, fits: port, batch: options.batch)
            return given
        }
        var shape = port.shape
        if !shape.isEmpty { shape[0] = options.batch ?? 1 }
        guard !shape.contains(where: { $0 < 0 }) else {
            let template = shape.map { $0 < 0 ? "N" : "\($0)" }.joined(separator: ",")
            throw Failure(message: "input '\(port.name)' has unknown dimensions in its shape \(describe(port.shape)); "
                + "give its full shape with --shape \(port.name)=\(template)")
        }
        try checkSize(shape, port)
        return shape
    }
}

private func check(_ shape: [Int], fits port: TensorInfo, batch: Int?) throws {
    let fits = shape.count == port.shape.count && zip(shape.dropFirst(), port.shape.dropFirst()).allSatisfy { $1 < 0 || $0 == $1 }
    guard fits else {
        throw Failure(message: "--shape \(port.name)=\(shape.map(String.init).joined(separator: ",")) does not fit the input's shape \(describe(port.shape))")
    }
    if let batch, shape[0] != batch {
        throw Failure(message: "--shape \(port.name) has batch \(shape[0]) but --batch is \(batch)")
    }
    try checkSize(shape, port)
}

/// Refuses shapes whose input buffer would be absurdly large (a typo), instead of failing to allocate.
private func checkSize(_ shape: [Int], _ port: TensorInfo) throws {
    var count = 1
    for d in shape {
        let (product, overflow) = count.multipliedReportingOverflow(by: d)
        guard !overflow, product <= 1 << 30 else { throw Failure(message: "input '\(port.name)' shape \(describe(shape)) is too large") }
        count = product
    }
}

func describe(_ shape: [Int]) -> String { "[" + shape.map { $0 < 0 ? "?" : "\($0)" }.joined(separator: ", ") + "]" }

func peakRSSBytes() -> Int? {
    guard let file = fopen("/proc/self/status", "r") else { return nil }
    defer { fclose(file) }
    var buffer = [CChar](repeating: 0, count: 512)
    while fgets(&buffer, Int32(buffer.count), file) != nil {
        let line = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        if line.hasPrefix("VmHWM:") { return Int(line.dropFirst(6).filter(\.isNumber)).map { $0 * 1024 } }
    }
    return nil
}

func benchmark(_ options: Options) throws -> Results {
    let loadStart = now()
    let model = try Model(path: options.modelPath, weightsPath: options.weightsPath)
    let loadSeconds = now() - loadStart
    let inputs = BoundInputs(ports: model.inputs, shapes: try resolveShapes(model, options))

    let session = try Session(model: model, options: SessionOptions(threads: options.threads))
    let firstStart = now()
    try inputs.run(session)
    let firstRunSeconds = now() - firstStart
    let warmup = try timedRuns(RunLimit(runs: options.warmup, seconds: .infinity),
                               expectedSeconds: Double(options.warmup) * firstRunSeconds, label: "warmup") { try inputs.run(session) }
    let perRunEstimate = warmup.isEmpty ? firstRunSeconds : warmup.reduce(0, +) / Double(warmup.count)

    let limit = options.runs.map { RunLimit(runs: $0, seconds: .infinity) }
        ?? RunLimit(runs: Options.maxRuns, seconds: options.seconds ?? Options.defaultSeconds)
    let timedStart = now()
    let latencies = try timedRuns(limit, expectedSeconds: min(limit.seconds, Double(limit.runs) * perRunEstimate),
                                  label: "timing") { try inputs.run(session) }
    let timedSeconds = now() - timedStart
    // Read before the profiling session adds its own arena.
    let peakRSS = peakRSSBytes()
    let outputs = (0..<session.outputCount).map { (name: model.outputs[$0].name, shape: session.output($0)?.shape ?? model.outputs[$0].shape) }

    var results = Results(
        modelPath: options.modelPath, weightsPath: options.weightsPath,
        inputs: zip(model.inputs, inputs.shapes).map { (name: $0.name, dtype: $0.dtype, shape: $1) },
        outputs: outputs, threads: options.threads, kernels: model.kernels,
        loadSeconds: loadSeconds, firstRunSeconds: firstRunSeconds, warmupRuns: options.warmup,
        latency: Latency(latencies), timedSeconds: timedSeconds,
        arenaBytes: session.arenaBytes, peakRSSBytes: peakRSS, optimizations: model.optimizationReport)
    if options.profile {
        results.profile = try profile(model, inputs, runs: min(latencies.count, 200), warmup: options.warmup, threads: options.threads,
                                      perRunEstimate: results.latency.median)
    }
    return results
}

/// A separate pass with a profiling session, so its per-op clock reads stay out of the latency
/// figures. Every run is one sample per op (see `Profile`). The FMA peak is checked just before
/// and just after every run: the clock of a shared host moves from second to second (the checks
/// here spread over 130-230 GFLOP/s), so each op's best run is set against the best of as many
/// checks, and each run's ops also against that run's own checks.
func profile(_ model: Model, _ inputs: BoundInputs, runs: Int, warmup: Int, threads: Int, perRunEstimate: Double) throws -> Profile {
    let session = try Session(model: model, options: SessionOptions(profile: true, threads: threads))
    for _ in 0..<max(warmup, 1) { try inputs.run(session) }
    var samples = Profile.Samples()
    _ = try timedRuns(RunLimit(runs: max(runs, 1), seconds: .infinity), expectedSeconds: Double(max(runs, 1)) * perRunEstimate,
                      label: "profiling") {
        session.resetProfile()
        let before = measuredPeakGflops()
        try inputs.run(session)
        let after = measuredPeakGflops()
        samples.add(session.profile(), peakChecks: [before, after])
    }
    return Profile(samples)
}

do {
    let options = try parseOptions(Array(CommandLine.arguments.dropFirst()))
    if options.help {
        print(usage)
        exit(0)
    }
    let results = try benchmark(options)
    print(options.json ? results.json() : results.text())
} catch let failure as Failure {
    fputs("dlbench: \(failure.message)\n", stderr)
    if failure.status == 2 { fputs(usage + "\n", stderr) }
    exit(failure.status)
} catch let error as DLError {
    fputs("dlbench: \(error.message)\n", stderr)
    exit(1)
} catch {
    fputs("dlbench: \(error)\n", stderr)
    exit(1)
}
