import Synchronization

/// A job's rows in one region per thread, claimed a few rows at a time: a region's owner takes
/// rows from its front (so it can carry state from one claim to the next), and a thread that has
/// finished its own region takes rows from the back of the region with most rows left (whose
/// owner runs slower, its core shared with another tenant, or started late). The state lives in
/// caller-provided memory (a session's scratch), one cache line per region.
struct RowClaims {
    static let lineBytes = 64
    let base: UnsafeMutableRawPointer
    let regions: Int

    static func bytes(regions: Int) throws -> Int { try checkedMul(max(regions, 1), lineBytes) }

    private func slot(_ i: Int) -> UnsafeMutablePointer<Atomic<Int>> {
        (base + i * Self.lineBytes).assumingMemoryBound(to: Atomic<Int>.self)
    }

    // A region is front | back << 32; row counts are far below 2^31 (tensor limits).
    private static func pack(_ front: Int, _ back: Int) -> Int { front | back << 32 }

    /// Before the threads start: region `i` holds `rows`.
    func reset(_ i: Int, _ rows: Range<Int>) {
        precondition(rows.lowerBound >= 0 && rows.upperBound < 1 << 31)
        (base + i * Self.lineBytes).bindMemory(to: Atomic<Int>.self, capacity: 1)
            .initialize(to: Atomic(Self.pack(rows.lowerBound, rows.upperBound)))
    }

    /// Up to `n` rows from the front of region `i`, or nil when it has none left.
    func front(_ i: Int, upTo n: Int) -> Range<Int>? {
        var v = slot(i).pointee.load(ordering: .relaxed)
        while true {
            let f = v & 0xffff_ffff, b = v >> 32
            guard f < b else { return nil }
            let e = min(b, f + max(n, 1))
            let (done, seen) = slot(i).pointee.compareExchange(expected: v, desired: Self.pack(e, b), ordering: .relaxed)
            if done { return f..<e }
            v = seen
        }
    }

    /// Up to `n` rows from the back of region `i`, or nil when it has none left.
    func back(_ i: Int, upTo n: Int) -> Range<Int>? {
        var v = slot(i).pointee.load(ordering: .relaxed)
        while true {
            let f = v & 0xffff_ffff, b = v >> 32
            guard f < b else { return nil }
            let s = max(f, b - max(n, 1))
            let (done, seen) = slot(i).pointee.compareExchange(expected: v, desired: Self.pack(f, s), ordering: .relaxed)
            if done { return s..<b }
            v = seen
        }
    }

    /// The region with most rows left, or nil when all are done.
    func fullest() -> Int? {
        var best: Int?, most = 0
        for i in 0..<regions {
            let v = slot(i).pointee.load(ordering: .relaxed)
            let left = (v >> 32) - (v & 0xffff_ffff)
            if left > most { most = left; best = i }
        }
        return best
    }
}
