import Glibc

/// The portable tier's probe: 12 independent scalar multiply-add chains.
func scalarFmaProbe(_ iterations: Int, _ sink: UnsafeMutablePointer<Float>) {
    var a: (Float, Float, Float, Float, Float, Float, Float, Float, Float, Float, Float, Float) = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)
    let x: Float = 0.999999, y: Float = 1e-7
    for _ in 0..<iterations {
        a.0 = a.0 * x + y; a.1 = a.1 * x + y; a.2 = a.2 * x + y; a.3 = a.3 * x + y
        a.4 = a.4 * x + y; a.5 = a.5 * x + y; a.6 = a.6 * x + y; a.7 = a.7 * x + y
        a.8 = a.8 * x + y; a.9 = a.9 * x + y; a.10 = a.10 * x + y; a.11 = a.11 * x + y
    }
    sink[0] = a.0 + a.1 + a.2 + a.3 + a.4 + a.5 + a.6 + a.7 + a.8 + a.9 + a.10 + a.11
}

/// The single-thread floating-point peak of the active kernel tier as measured now, in GFLOP/s:
/// 12 independent FMA chains (no memory traffic) for about 0.4 ms at 3 GHz at the vector tiers.
/// What `dlbench --profile` compares each op's GFLOP/s with (it checks before and after each run).
public func measuredPeakGflops() -> Double {
    guard case .success(let table) = KernelTable.active else { return 0 }
    let iterations = 200_000
    return withUnsafeTemporaryAllocation(of: Float.self, capacity: 16) { sink in
        var t0 = timespec(), t1 = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t0)
        table.fmaProbe(iterations, sink.baseAddress!)
        clock_gettime(CLOCK_MONOTONIC, &t1)
        let seconds = Double(t1.tv_sec - t0.tv_sec) + Double(t1.tv_nsec - t0.tv_nsec) * 1e-9
        return seconds > 0 ? Double(iterations) * 12 * Double(table.lanes) * 2 / seconds / 1e9 : 0
    }
}
