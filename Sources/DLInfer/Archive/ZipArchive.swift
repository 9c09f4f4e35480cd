import CZlib

/// Reads the members of a zip archive held in memory (a Keras 3 `.keras` file): stored or
/// deflated entries, no zip64, no encryption.
struct ZipArchive {
    struct Entry {
        let name: String
        let method: UInt16
        let compressedSize: Int
        let size: Int
        let localHeaderOffset: Int
    }

    let bytes: [UInt8]
    let label: String
    let entries: [Entry]

    static func looksLikeZip(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 4 && bytes[0] == 0x50 && bytes[1] == 0x4B && bytes[2] == 0x03 && bytes[3] == 0x04
    }

    init(bytes: [UInt8], label: String) throws {
        self.bytes = bytes
        self.label = label
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
        let raw = Array(bytes[start..<(start + e.compressedSize)])
        switch e.method {
        case 0:
            return raw
        case 8:
            return try inflate(raw, expected: e.size, fail: fail)
        default:
            throw fail("compression method \(e.method) is not supported (stored and deflate are)")
        }
    }

    private func inflate(_ input: [UInt8], expected: Int, fail: (String) -> DLError) throws -> [UInt8] {
        guard expected <= 1 << 32 else { throw fail("member too large") }
        var out = [UInt8](repeating: 0, count: max(expected, 1))
        var input = input
        var stream = z_stream()
        guard dl_inflate_init_raw(&stream) == Z_OK else { throw fail("zlib init failed") }
        defer { inflateEnd(&stream) }
        let status: Int32 = input.withUnsafeMutableBufferPointer { inp in
            out.withUnsafeMutableBufferPointer { outp in
                stream.next_in = inp.baseAddress
                stream.avail_in = uInt(inp.count)
                stream.next_out = outp.baseAddress
                stream.avail_out = uInt(outp.count)
                return CZlib.inflate(&stream, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END, Int(stream.total_out) == expected else { throw fail("deflate data is corrupt") }
        return Array(out.prefix(expected))
    }
}
