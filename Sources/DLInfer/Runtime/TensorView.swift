import Glibc

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
    var flops: Double
    var aux: [Int]
    /// The session's intra-op threads.
    let pool: ThreadPool
}

/// A 64-byte-aligned buffer of floats owned by a compiled op or model (packed weights, constants).
final class AlignedBuffer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int

    init(count: Int) throws {
        self.count = count
        var raw: UnsafeMutableRawPointer?
        guard count <= maxElements, posix_memalign(&raw, 64, max(count, 16) * 4) == 0, raw != nil else {
            throw DLError(.internal, "cannot allocate \(count) floats")
        }
        pointer = raw!.bindMemory(to: Float.self, capacity: max(count, 16))
        pointer.initialize(repeating: 0, count: max(count, 16))
    }

    convenience init(_ data: [Float]) throws {
        try self.init(count: data.count)
        data.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: data.count) }
    }

    deinit { free(pointer) }
}
