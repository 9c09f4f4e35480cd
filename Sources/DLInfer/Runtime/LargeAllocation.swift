import CMalloc
import Glibc

/// Memory for packed weights and activation arenas. Blocks of 2 MB and more are mapped on their
/// own, 2 MB-aligned, and marked for transparent huge pages (`MADV_HUGEPAGE`; in THP mode
/// `madvise` only marked regions get them): a big layer's weights, read once per image from
/// memory, then cross one page-table entry per 2 MB instead of one per 4 KB, which keeps the TLB
/// out of the weight stream's way. Smaller blocks come from malloc. The hint may be refused (THP
/// off, no free huge pages); the memory is the same either way.
/// Blocks mapped on their own cannot reuse heap memory the loader freed, so the compiler hands
/// that back to the system as it goes (`returnFreedHeap`). ResNet50's peak resident memory while
/// loading: 191 MB with every block from malloc, 224 MB mapped without handing back, 184 MB with.
enum LargeAllocation {
    static let hugePageBytes = 2 << 20
    private static let pageBytes = 4096

    /// `bytes` (> 0) of zeroed memory aligned to `alignment` (a power of two, at most 4096), or
    /// nil when the system has not that much to give.
    static func allocate(bytes: Int, alignment: Int) -> UnsafeMutableRawPointer? {
        guard bytes >= hugePageBytes else {
            var raw: UnsafeMutableRawPointer?
            guard posix_memalign(&raw, alignment, bytes) == 0, let raw else { return nil }
            raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
            return raw
        }
        guard bytes <= Int.max - hugePageBytes - pageBytes else { return nil }
        // Over-map by 2 MB, then unmap the unaligned head and whatever lies past the block.
        let mapped = mappedLength(bytes), length = mapped + hugePageBytes
        let base = mmap(nil, length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let base, base != UnsafeMutableRawPointer(bitPattern: -1) else { return nil }
        let head = (hugePageBytes - Int(bitPattern: base) % hugePageBytes) % hugePageBytes
        let start = base + head
        if head > 0 { munmap(base, head) }
        if length - head > mapped { munmap(start + mapped, length - head - mapped) }
        _ = madvise(start, mapped, MADV_HUGEPAGE)
        return start
    }

    /// Gives back a block from `allocate` with the same `bytes`.
    static func release(_ pointer: UnsafeMutableRawPointer, bytes: Int) {
        if bytes >= hugePageBytes { munmap(pointer, mappedLength(bytes)) } else { free(pointer) }
    }

    /// Returns the heap's free pages to the system (glibc's malloc_trim).
    static func returnFreedHeap() { _ = malloc_trim(0) }

    private static func mappedLength(_ bytes: Int) -> Int { (bytes + pageBytes - 1) / pageBytes * pageBytes }
}
