/// A tensor in memory the plan owns: a pointer (into the arena, or a constant) and its shape.
struct TensorView {
    var data: UnsafeMutableRawPointer
    var shape: [Int]
    var count: Int

    var f32: UnsafeMutablePointer<Float> { data.assumingMemoryBound(to: Float.self) }
    var i32: UnsafeMutablePointer<Int32> { data.assumingMemoryBound(to: Int32.self) }
}

/// One op's execution within a plan: everything `run` needs, fixed at plan time.
struct Step {
    let op: CompiledOp
    let node: Int
    var inputs: [TensorView]
    var outputs: [TensorView]
    var scratch: UnsafeMutableRawPointer?
    /// The op's memory that keeps its contents between runs of this plan (OpPlan.persistentBytes).
    var persistent: UnsafeMutableRawPointer? = nil
    var flops: Double
    var weightBytes: Int
    var aux: [Int]
    /// The session's intra-op threads.
    let pool: ThreadPool

    /// The threads for an op that works image by image: none when one image's share of the work is
    /// too small to split (Plan.parallelMinFlops).
    func pool(perImageOf images: Int) -> ThreadPool {
        flops > 0 && flops / Double(max(images, 1)) < Plan.parallelMinFlops ? .serial : pool
    }
}
