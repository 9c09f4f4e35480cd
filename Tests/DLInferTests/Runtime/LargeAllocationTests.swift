@testable import DLInfer
import Foundation
import Testing

/// Weight and arena memory: zeroed and aligned at every size; blocks from 2 MB up start on a 2 MB
/// boundary and are marked for transparent huge pages wherever the kernel offers them.
@Suite struct LargeAllocationTests {
    static let sizes = [1, 64, 100_003, (2 << 20) - 4, 2 << 20, (2 << 20) + 1, 5_000_003, 12_582_912]

    @Test(arguments: sizes) func zeroedAlignedAndWritable(bytes: Int) throws {
        let p = try #require(LargeAllocation.allocate(bytes: bytes, alignment: 64))
        defer { LargeAllocation.release(p, bytes: bytes) }
        let alignment = bytes >= LargeAllocation.hugePageBytes ? LargeAllocation.hugePageBytes : 64
        #expect(Int(bitPattern: p) % alignment == 0)
        let b = p.assumingMemoryBound(to: UInt8.self)
        #expect((0..<bytes).allSatisfy { b[$0] == 0 })
        for i in 0..<bytes { b[i] = UInt8(truncatingIfNeeded: i &* 31) }
        #expect((0..<bytes).allSatisfy { b[$0] == UInt8(truncatingIfNeeded: $0 &* 31) })
    }

    @Test func impossibleSizesFailWithoutTrapping() {
        for bytes in [Int.max, Int.max - (2 << 20), 1 << 62, 1 << 50] {
            #expect(LargeAllocation.allocate(bytes: bytes, alignment: 64) == nil, "\(bytes) bytes")
        }
    }

    @Test func bigBlocksAreMarkedForHugePages() throws {
        let mode = try String(contentsOfFile: "/sys/kernel/mm/transparent_hugepage/enabled", encoding: .utf8)
        let bytes = 5_000_003
        let p = try #require(LargeAllocation.allocate(bytes: bytes, alignment: 64))
        defer { LargeAllocation.release(p, bytes: bytes) }
        let small = try #require(LargeAllocation.allocate(bytes: 100_003, alignment: 64))
        defer { LargeAllocation.release(small, bytes: 100_003) }
        let eligible = try Self.thpEligible(containing: p)
        if mode.contains("[never]") {
            #expect(!eligible)
        } else {
            #expect(eligible, "THP mode \(mode): the block's mapping is not eligible for huge pages")
        }
        if mode.contains("[madvise]") { #expect(try !Self.thpEligible(containing: small)) }
    }

    /// The "THPeligible" flag of the mapping in /proc/self/smaps that holds `p`.
    static func thpEligible(containing p: UnsafeMutableRawPointer) throws -> Bool {
        let smaps = try #require(readProcFile("/proc/self/smaps"))
        let address = UInt(bitPattern: Int(bitPattern: p))
        var inside = false
        for line in smaps.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let range = fields.first, range.contains("-"), !range.hasSuffix(":") {
                let bounds = range.split(separator: "-").compactMap { UInt($0, radix: 16) }
                inside = bounds.count == 2 && bounds[0] <= address && address < bounds[1]
            } else if inside, fields.first == "THPeligible:" {
                return fields.last == "1"
            }
        }
        Issue.record("no mapping in /proc/self/smaps holds \(p) with a THPeligible line")
        return false
    }

    /// The whole of a /proc file (Foundation's readers stop after the first read(2), as /proc
    /// files report a size of 0).
    static func readProcFile(_ path: String) -> String? {
        guard let f = fopen(path, "r") else { return nil }
        defer { fclose(f) }
        var bytes: [UInt8] = [], chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&chunk, 1, chunk.count, f)
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
