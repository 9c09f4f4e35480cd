import CZlib

/// Reads the members of a zip archive held in memory (a Keras 3 `.keras` file): stored or
/// deflated entries, no zip64, no encryption. A member's declared size is checked against what its
/// data can hold and against `maxMemberBytes` before anything is allocated for it.
struct ZipArchive {
    struct Entry {
        let name: String
        let method: UInt16
        let compressedSize: Int
        let size: Int
        let localHeaderOffset: Int
    }

    /// How much deflate can expand data at most (258-byte matches coded in 2 bits).
    static let maxDeflateRatio = 1032

    let bytes: [UInt8]
    let label: String
    let entries: [Entry]
    let maxMemberBytes: Int

    static func looksLikeZip(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 4 && bytes[0] == 0x50 && bytes[1] == 0x4B && bytes[2] == 0x03 && bytes[3] == 0x04
    }

    init(bytes: [UInt8], label: String, maxMemberBytes: Int = KerasLoader.defaultMaxWeightBytes) throws {
        self.bytes = bytes
        self.label = label
        self.maxMemberBytes = maxMemberBytes
        func fail(_ m: String) -> DLError { DLError.format("\(label): corrupt zip archive: \(m)") }
        func u16(_ o: Int) -> Int { Int(bytes[o]) | Int(bytes[o + 1]) << 8 }
        func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
        guard bytes.count >= 22 else { throw fail("too short") }
        var eocd = -1
        var o = bytes.count - 22
        let lowest = max(0, bytes.count - 22 - 65535)
        while o >= lowest {
            if bytes[o] == 0x50 && bytes[o + 1] == 0x4B && bytes[o + 2] == 0x05 && bytes[o + 3] == 0x06 { eocd = o; break }
            o -= 1
        }
        guard eocd >= 0 else { throw fail("no end-of-central-directory record (truncated?)") }
        let count = u16(eocd + 10)
        let cdSize = u32(eocd + 12)
        let cdOffset = u32(eocd + 16)
        guard cdOffset + cdSize <= eocd else { throw fail("central directory out of bounds (zip64 is not supported)") }
        var entries: [Entry] = []
        var p = cdOffset
        for _ in 0..<count {
            guard p + 46 <= eocd, u32(p) == 0x0201_4B50 else { throw fail("bad central directory entry") }
            let flags = u16(p + 8)
            let method = UInt16(u16(p + 10))
            let csize = u32(p + 20), usize = u32(p + 24)
            let nlen = u16(p + 28), xlen = u16(p + 30), clen = u16(p + 32)
            let local = u32(p + 42)
            guard p + 46 + nlen <= eocd else { throw fail("bad entry name") }
            let name = String(decoding: bytes[(p + 46)..<(p + 46 + nlen)], as: UTF8.self)
            guard flags & 1 == 0 else { throw fail("encrypted member '\(name)'") }
            entries.append(Entry(name: name, method: method, compressedSize: csize, size: usize, localHeaderOffset: local))
            p += 46 + nlen + xlen + clen
        }
        self.entries = entries
    }

    func read(_ name: String) throws -> [UInt8]? {
        guard let e = entries.first(where: { $0.name == name }) else { return nil }
        func fail(_ m: String) -> DLError { DLError.format("\(label): corrupt zip member '\(name)': \(m)") }
        let h = e.localHeaderOffset
        guard h + 30 <= bytes.count,
              bytes[h] == 0x50, bytes[h + 1] == 0x4B, bytes[h + 2] == 0x03, bytes[h + 3] == 0x04 else {
            throw fail("bad local header")
        }
        let nlen = Int(bytes[h + 26]) | Int(bytes[h + 27]) << 8
        let xlen = Int(bytes[h + 28]) | Int(bytes[h + 29]) << 8
        let start = h + 30 + nlen + xlen
        guard start + e.compressedSize <= bytes.count else { throw fail("data runs past the end (truncated?)") }
        guard e.size <= maxMemberBytes else {
            throw DLError.unsupported("\(label): member '\(name)' of \(e.size) bytes exceeds the limit of \(maxMemberBytes) bytes")
        }
        let raw = bytes[start..<(start + e.compressedSize)]
        switch e.method {
        case 0:
            guard e.size == e.compressedSize else { throw fail("stored member declares \(e.size) bytes but holds \(e.compressedSize)") }
            return Array(raw)
        case 8:
            guard e.size <= e.compressedSize * Self.maxDeflateRatio else {
                throw fail("declares \(e.size) bytes, more than \(e.compressedSize) deflated bytes can hold")
            }
            return try inflate(Array(raw), size: e.size, fail: fail)
        default:
            throw fail("compression method \(e.method) is not supported (stored and deflate are)")
        }
    }

    /// Inflates chunk by chunk: memory grows with the output actually produced (a false declared
    /// size costs nothing) and stops at the declared size.
    private func inflate(_ input: [UInt8], size: Int, fail: (String) -> DLError) throws -> [UInt8] {
        var input = input
        var stream = z_stream()
        guard dl_inflate_init_raw(&stream) == Z_OK else { throw fail("zlib init failed") }
        defer { inflateEnd(&stream) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var status = Z_OK
        try input.withUnsafeMutableBufferPointer { inp in
            stream.next_in = inp.baseAddress
            stream.avail_in = uInt(inp.count)
            while status == Z_OK {
                status = chunk.withUnsafeMutableBufferPointer { c in
                    stream.next_out = c.baseAddress
                    stream.avail_out = uInt(c.count)
                    return CZlib.inflate(&stream, Z_NO_FLUSH)
                }
                let n = chunk.count - Int(stream.avail_out)
                guard n <= size - out.count else { throw fail("inflates to more than the declared \(size) bytes") }
                out += chunk[0..<n]
            }
        }
        guard status == Z_STREAM_END, out.count == size else {
            throw fail(status == Z_STREAM_END ? "inflates to \(out.count) bytes, not the declared \(size)" : "deflate data is corrupt")
        }
        return out
    }
}
