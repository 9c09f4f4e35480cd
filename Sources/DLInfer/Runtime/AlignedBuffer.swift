import Glibc

/// A 64-byte-aligned buffer of floats owned by a compiled op or model (packed weights, constants).
final class AlignedBuffer: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<Float>
    let count: Int
    var bytes: Int { count * MemoryLayout<Float>.stride }

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
