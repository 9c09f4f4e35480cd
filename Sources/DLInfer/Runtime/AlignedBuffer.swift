import Glibc

/// A 64-byte-aligned, zeroed buffer of floats owned by a compiled op or model (packed weights,
/// constants); big ones on huge pages (LargeAllocation).
final class AlignedBuffer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int
    var bytes: Int { count * MemoryLayout<Float>.stride }

    init(count: Int) throws {
        self.count = count
        guard count <= maxElements, let raw = LargeAllocation.allocate(bytes: max(count, 16) * 4, alignment: 64) else {
            throw DLError(.internal, "cannot allocate \(count) floats")
        }
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 16))
    }

    convenience init(_ data: [Float]) throws {
        try self.init(count: data.count)
        data.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: data.count) }
    }

    deinit { LargeAllocation.release(pointer, bytes: max(count, 16) * 4) }
}
