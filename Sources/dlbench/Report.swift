import DLInfer
import Glibc

struct Latency {
    let runs: Int
    let min, median, p90, p99, mean: Double

    init(_ samples: [Double]) {
        let sorted = samples.sorted()
        runs = sorted.count
        min = sorted.first ?? 0
        median = Latency.percentile(sorted, 0.5)
        p90 = Latency.percentile(sorted, 0.9)
        p99 = Latency.percentile(sorted, 0.99)
        mean = sorted.isEmpty ? 0 : sorted.reduce(0, +) / Double(sorted.count)
    }

    /// Linear interpolation between the closest ranks (numpy's default).
    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return 0 }
        let position = p * Double(sorted.count - 1)
        let below = Int(position), above = Swift.min(below + 1, sorted.count - 1)
        return sorted[below] + (sorted[above] - sorted[below]) * (position - Double(below))
    }
}

/// Per-op times of profiled runs, one sample per op and run: each op's fastest run shows what its
/// kernel does undisturbed (the way the FMA peak it is set against is a best too, of two checks
/// per run), its median run what a typical run spends there. On a shared host a neighbour's burst
/// lands on a few ops of a few runs and moves neither. The host's clock moves too, so each run's
/// ops are also set against the mean of that run's own two checks: the median of those ratios is
/// the kernel's share of the peak at whatever clock the core had.
struct Profile {
    struct Op {
        let label: String
        let layers: [String]
        let flopsPerRun: Double
        let weightBytesPerRun: Int
        /// Its fastest and its median run, seconds.
        let best: Double, median: Double
        /// The median over runs of its GFLOP/s divided by the FMA peak checked around the same run.
        let medianOfRunPeak: Double?

        func gflops(_ seconds: Double) -> Double? { flopsPerRun > 0 && seconds > 0 ? flopsPerRun / seconds / 1e9 : nil }
        /// The rate its weights go by (GB/s): what memory must deliver when they are not cached.
        func weightGBps(_ seconds: Double) -> Double? {
            weightBytesPerRun > 0 && seconds > 0 ? Double(weightBytesPerRun) / seconds / 1e9 : nil
        }
        /// Convolutions and dense layers: the gemm-bound kernels.
        var isGemmKernel: Bool {
            ["conv1d", "conv2d", "depthwise", "conv_transpose", "dense"].contains { label.hasPrefix($0) }
        }
    }

    /// Collects one run's entries at a time.
    struct Samples {
        private var keys: [String] = []
        private var entries: [String: ProfileEntry] = [:]
        private var seconds: [String: [Double]] = [:]
        private var ofRunPeak: [String: [Double]] = [:]
        private(set) var runs = 0
        private(set) var peakChecks: [Double] = []

        /// One run's entries and the FMA peak (GFLOP/s) checked around it.
        mutating func add(_ run: [ProfileEntry], peakChecks checks: [Double]) {
            peakChecks += checks
            let runPeak = checks.isEmpty ? 0 : checks.reduce(0, +) / Double(checks.count)
            for e in run {
                let key = e.op + "\u{1}" + e.layers.joined(separator: "\u{1}")
                if entries[key] == nil { keys.append(key); entries[key] = e }
                let s = e.seconds / Double(Swift.max(e.runs, 1))
                seconds[key, default: []].append(s)
                if e.flopsPerRun > 0 && s > 0 && runPeak > 0 { ofRunPeak[key, default: []].append(e.flopsPerRun / s / 1e9 / runPeak) }
            }
            runs += 1
        }

        var ops: [Op] {
            keys.map { key in
                let e = entries[key]!, sorted = seconds[key]!.sorted(), ratios = ofRunPeak[key]?.sorted()
                return Op(label: e.op, layers: e.layers, flopsPerRun: e.flopsPerRun, weightBytesPerRun: e.weightBytesPerRun, best: sorted[0],
                          median: Latency.percentile(sorted, 0.5), medianOfRunPeak: ratios.map { Latency.percentile($0, 0.5) })
            }
        }
    }

    let runs: Int
    /// Slowest (median) first.
    let ops: [Op]
    /// The measured single-thread FMA peak of the kernel tier (GFLOP/s): the best of `peakChecks`.
    let peakGflops: Double?
    let peakChecks: Int
    /// Sums over the ops of their median and of their fastest runs.
    let medianSecondsPerRun, bestSecondsPerRun: Double
    let gemmMedianSeconds, gemmBestSeconds, gemmFlops: Double

    init(_ samples: Samples) {
        runs = samples.runs
        peakChecks = samples.peakChecks.count
        peakGflops = samples.peakChecks.max().flatMap { $0 > 0 ? $0 : nil }
        ops = samples.ops.sorted { $0.median > $1.median }
        medianSecondsPerRun = ops.reduce(0) { $0 + $1.median }
        bestSecondsPerRun = ops.reduce(0) { $0 + $1.best }
        let gemmOps = ops.filter(\.isGemmKernel)
        gemmMedianSeconds = gemmOps.reduce(0) { $0 + $1.median }
        gemmBestSeconds = gemmOps.reduce(0) { $0 + $1.best }
        gemmFlops = gemmOps.reduce(0) { $0 + $1.flopsPerRun }
    }

    func gemmGflops(_ seconds: Double) -> Double? { gemmFlops > 0 && seconds > 0 ? gemmFlops / seconds / 1e9 : nil }

    /// Percent of the median total.
    func share(_ seconds: Double) -> Double { medianSecondsPerRun > 0 ? 100 * seconds / medianSecondsPerRun : 0 }

    /// GFLOP/s per thread as a percent of the peak.
    func percentOfPeak(_ gflops: Double?, threads: Int) -> Double? {
        guard let gflops, let peak = peakGflops, peak > 0 else { return nil }
        return 100 * gflops / Double(Swift.max(threads, 1)) / peak
    }

    /// The median over runs of the op's GFLOP/s per thread as a percent of its run's own peak checks.
    func percentOfRunPeak(_ op: Op, threads: Int) -> Double? {
        op.medianOfRunPeak.map { 100 * $0 / Double(Swift.max(threads, 1)) }
    }
}

struct Results {
    let modelPath: String
    let weightsPath: String?
    let inputs: [(name: String, dtype: DType, shape: [Int])]
    let outputs: [(name: String, shape: [Int])]
    let threads: Int
    let kernels: String
    let loadSeconds, firstRunSeconds: Double
    let warmupRuns: Int
    let latency: Latency
    let timedSeconds: Double
    let arenaBytes: Int
    let peakRSSBytes: Int?
    let optimizations: [String]
    var profile: Profile?

    var batch: Int { inputs.first?.shape.first ?? 1 }
    var samplesPerSecond: Double { latency.median > 0 ? Double(batch) / latency.median : 0 }
}

// MARK: - Text

extension Results {
    func text() -> String {
        var lines = ["model        \(modelPath)" + (weightsPath.map { " (weights \($0))" } ?? "")]
        lines += inputs.map { "input        \($0.name) \(name($0.dtype)) \(describe($0.shape))" }
        lines += outputs.map { "output       \($0.name) \(describe($0.shape))" }
        lines += [
            "load         \(ms(loadSeconds)) ms",
            "first run    \(ms(firstRunSeconds)) ms (includes planning)",
            "kernels      \(kernels)",
            "timed runs   \(latency.runs) in \(fixed(timedSeconds, 2)) s, after \(warmupRuns) warmup runs, \(threads) thread\(threads == 1 ? "" : "s")",
            "latency ms   min \(ms(latency.min))  median \(ms(latency.median))  p90 \(ms(latency.p90))  p99 \(ms(latency.p99))  mean \(ms(latency.mean))",
            "throughput   \(fixed(samplesPerSecond, samplesPerSecond >= 100 ? 0 : 1)) samples/s (batch \(batch) / median)",
            "arena        \(megabytes(arenaBytes)) MB",
            "peak RSS     \(peakRSSBytes.map { megabytes($0) + " MB" } ?? "unknown")",
            "optimizations" + (optimizations.isEmpty ? " none" : ""),
        ]
        lines += optimizations.map { "  " + $0 }
        if let profile { lines += profileText(profile) }
        return lines.joined(separator: "\n")
    }

    private func profileText(_ p: Profile) -> [String] {
        let opWidth = max(2, p.ops.map(\.label.count).max() ?? 0)
        func percent(_ x: Double?) -> String { x.map { fixed($0, 0) + "%" } ?? "" }
        var lines = ["", "profile      \(p.runs) runs of a separate profiling session, each op timed in each; per op its fastest run "
                         + "(best) and its median run; slowest op (median) first; share of the median total",
                     "rank  \(pad("op", opWidth))  best ms  median ms   share  GFLOP/s   %peak  %run peak, median  weights MB  GB/s  layers"]
        if let peak = p.peakGflops {
            lines.insert("peak         \(fixed(peak, 1)) GFLOP/s per thread (measured: independent FMA chains at this tier, best of "
                         + "\(p.peakChecks) checks, one just before and one just after each run); GFLOP/s and %peak at the op's best run, "
                         + "%peak = GFLOP/s / threads / peak; %run peak: each run's GFLOP/s / threads against the mean of that run's two "
                         + "checks (the core's clock then), median over the runs; Winograd ops count direct-convolution FLOPs; weights: "
                         + "the packed weights an op reads (Winograd's transformed ones; at least once a run, once per image "
                         + "where an op works image by image), and GB/s: their size / the op's best run, the stream memory must "
                         + "give when they are not cached", at: 1)
        }
        for (i, op) in p.ops.enumerated() {
            lines.append(padLeft("\(i + 1)", 4) + "  " + pad(op.label, opWidth) + padLeft(fixed(op.best * 1000, 3), 9)
                         + padLeft(fixed(op.median * 1000, 3), 11) + padLeft(fixed(p.share(op.median), 1) + "%", 8)
                         + padLeft(op.gflops(op.best).map { fixed($0, 1) } ?? "", 9) + padLeft(percent(p.percentOfPeak(op.gflops(op.best), threads: threads)), 8)
                         + padLeft(percent(p.percentOfRunPeak(op, threads: threads)), 19)
                         + padLeft(op.weightBytesPerRun > 0 ? fixed(Double(op.weightBytesPerRun) / 1e6, 2) : "", 12)
                         + padLeft(op.weightGBps(op.best).map { fixed($0, 1) } ?? "", 6)
                         + "  " + truncated(op.layers.joined(separator: ", "), 60))
        }
        let gemmRates = [p.gemmGflops(p.gemmBestSeconds), p.gemmGflops(p.gemmMedianSeconds)]
        lines += [
            "total        \(ms(p.medianSecondsPerRun)) ms/run (sum of the ops' medians), \(ms(p.bestSecondsPerRun)) (of their bests)",
            "gemm/conv    \(fixed(p.share(p.gemmMedianSeconds), 1))% of time (conv1d/conv2d/depthwise/conv_transpose/dense ops)"
                + (gemmRates[0] != nil ? ", \(fixed(gemmRates[0]!, 1)) GFLOP/s at their bests, \(fixed(gemmRates[1]!, 1)) at their medians" : ""),
            "other        \(fixed(p.share(p.medianSecondsPerRun - p.gemmMedianSeconds), 1))% of time",
        ]
        return lines
    }
}

private func name(_ dtype: DType) -> String { dtype == .int32 ? "int32" : "float32" }
private func ms(_ seconds: Double) -> String { significant(seconds * 1000, minDecimals: 3) }
private func megabytes(_ bytes: Int) -> String { significant(Double(bytes) / 1e6, minDecimals: 1) }

/// At least three significant digits, so microsecond latencies and kilobyte arenas do not print as 0.000.
private func significant(_ x: Double, minDecimals: Int) -> String {
    let magnitude = x > 0 && x.isFinite ? Int(log10(x).rounded(.down)) : 0
    return fixed(x, min(6, max(minDecimals, 2 - magnitude)))
}
private func pad(_ s: String, _ width: Int) -> String { s + String(repeating: " ", count: max(0, width - s.count)) }
private func padLeft(_ s: String, _ width: Int) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }
private func truncated(_ s: String, _ limit: Int) -> String { s.count <= limit ? s : s.prefix(limit - 3) + "..." }

/// printf-style "%.<digits>f" (no Foundation).
func fixed(_ x: Double, _ digits: Int) -> String { cFormat("%.\(digits)f", x) }

private func cFormat(_ format: String, _ x: Double) -> String {
    var buffer = [CChar](repeating: 0, count: 64)
    _ = withVaList([x]) { vsnprintf(&buffer, buffer.count, format, $0) }
    return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
}

// MARK: - JSON

/// Just enough JSON to print the results: containers of scalars go on one line, others are indented.
indirect enum JSON {
    case null, number(Double?), int(Int), string(String), array([JSON]), object([(String, JSON)])

    func rendered(indent: String = "") -> String {
        switch self {
        case .number(let x): return x.flatMap { $0.isFinite ? cFormat("%.6g", $0) : nil } ?? "null"
        case .int(let n): return "\(n)"
        case .null: return "null"
        case .string(let s): return JSON.quoted(s)
        case .array(let items):
            return container("[", "]", items.map { ("", $0) }, indent)
        case .object(let members):
            return container("{", "}", members.map { (JSON.quoted($0.0) + ": ", $0.1) }, indent)
        }
    }

    private var isScalar: Bool {
        switch self {
        case .array(let items): return items.isEmpty
        case .object(let members): return members.isEmpty
        default: return true
        }
    }

    private var isFlat: Bool {
        switch self {
        case .array(let items): return items.allSatisfy { $0.isScalar }
        case .object(let members): return members.allSatisfy { $0.1.isScalar || $0.1.isFlatArray }
        default: return true
        }
    }

    private var isFlatArray: Bool { if case .array = self { return isFlat } else { return false } }

    private func container(_ open: String, _ close: String, _ members: [(String, JSON)], _ indent: String) -> String {
        if isFlat { return open + members.map { $0.0 + $0.1.rendered() }.joined(separator: ", ") + close }
        let inner = indent + "  "
        return open + "\n" + members.map { inner + $0.0 + $0.1.rendered(indent: inner) }.joined(separator: ",\n") + "\n" + indent + close
    }

    static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                out += "\\u00" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}

extension Results {
    func json() -> String {
        let latencyMs: [(String, JSON)] = [("min", latency.min), ("median", latency.median), ("p90", latency.p90),
                                           ("p99", latency.p99), ("mean", latency.mean)].map { ($0.0, .number($0.1 * 1000)) }
        let object: [(String, JSON)] = [
            ("model", .string(modelPath)),
            ("weights", weightsPath.map(JSON.string) ?? .null),
            ("inputs", .array(inputs.map { .object([("name", .string($0.name)), ("dtype", .string(name($0.dtype))), ("shape", shapeJSON($0.shape))]) })),
            ("outputs", .array(outputs.map { .object([("name", .string($0.name)), ("shape", shapeJSON($0.shape))]) })),
            ("batch", .int(batch)),
            ("threads", .int(threads)),
            ("kernels", .string(kernels)),
            ("load_ms", .number(loadSeconds * 1000)),
            ("first_run_ms", .number(firstRunSeconds * 1000)),
            ("warmup_runs", .int(warmupRuns)),
            ("runs", .int(latency.runs)),
            ("timed_seconds", .number(timedSeconds)),
            ("latency_ms", .object(latencyMs)),
            ("throughput_samples_per_second", .number(samplesPerSecond)),
            ("arena_mb", .number(Double(arenaBytes) / 1e6)),
            ("peak_rss_mb", .number(peakRSSBytes.map { Double($0) / 1e6 })),
            ("optimizations", .array(optimizations.map { .string($0) })),
            ("profile", profile.map(profileJSON) ?? .null),
        ]
        return JSON.object(object).rendered()
    }

    private func shapeJSON(_ shape: [Int]) -> JSON { .array(shape.map { .int($0) }) }

    private func profileJSON(_ p: Profile) -> JSON {
        .object([
            ("runs", .int(p.runs)),
            ("total_ms_median", .number(p.medianSecondsPerRun * 1000)),
            ("total_ms_best", .number(p.bestSecondsPerRun * 1000)),
            ("gemm_conv_share_percent", .number(p.share(p.gemmMedianSeconds))),
            ("other_share_percent", .number(p.share(p.medianSecondsPerRun - p.gemmMedianSeconds))),
            ("gemm_conv_gflops_best", .number(p.gemmGflops(p.gemmBestSeconds))),
            ("gemm_conv_gflops_median", .number(p.gemmGflops(p.gemmMedianSeconds))),
            ("peak_gflops_per_thread", .number(p.peakGflops)),
            ("peak_checks", .int(p.peakChecks)),
            ("ops", .array(p.ops.enumerated().map { i, op in
                .object([("rank", .int(i + 1)), ("op", .string(op.label)), ("ms_best", .number(op.best * 1000)),
                         ("ms_median", .number(op.median * 1000)), ("share_percent", .number(p.share(op.median))),
                         ("gflops_best", .number(op.gflops(op.best))), ("gflops_median", .number(op.gflops(op.median))),
                         ("percent_peak_best", .number(p.percentOfPeak(op.gflops(op.best), threads: threads))),
                         ("percent_peak_median", .number(p.percentOfPeak(op.gflops(op.median), threads: threads))),
                         ("percent_run_peak_median", .number(p.percentOfRunPeak(op, threads: threads))),
                         ("weight_bytes", .int(op.weightBytesPerRun)), ("weight_gbps_best", .number(op.weightGBps(op.best))),
                         ("layers", .array(op.layers.map { .string($0) }))])
            })),
        ])
    }
}
