/// Object headers are checked here, from the file's raw bytes, before libhdf5 decodes any of
/// their messages. libhdf5 1.10.8 checks that each message lies within its header chunk, but its
/// decoders trust the sizes inside the messages: an attribute's name, datatype and dataspace
/// sizes, a link's name length, string lengths in datatypes and filter pipelines, fill-value and
/// compact-data sizes. On a crafted file it strdup()s names that are not NUL-terminated and copies
/// from addresses computed from those sizes, which can crash the process (Tests/Fuzz/regressions/
/// loader/loader-attr-*). This parser walks a header (version 1 or 2, every continuation chunk)
/// and every message libhdf5 may decode for the loader, each read bounded by the message it is in.
/// Layouts: the HDF5 File Format Specification, version 2 (sections IV.A.1 and IV.A.2).

enum HeaderProblem: Error {
    case malformed(String)
    case unsupported(String)
}

/// Little-endian reads within `bytes[pos..<end]`; a read past `end` throws.
struct ByteCursor {
    let bytes: [UInt8]
    var pos: Int
    var end: Int
    /// Names the thing read, for the error.
    let what: String

    var remaining: Int { end - pos }

    mutating func skip(_ n: Int) throws {
        guard n >= 0, n <= end - pos else { throw HeaderProblem.malformed("\(what) runs past its end") }
        pos += n
    }

    mutating func uint(_ size: Int) throws -> Int {
        let at = pos
        try skip(size)
        return littleEndian(bytes, at, size)
    }

    mutating func u8() throws -> Int { try uint(1) }

    /// The next `n` bytes as a cursor of their own (skipped here).
    mutating func take(_ n: Int, _ what: String) throws -> ByteCursor {
        let at = pos
        try skip(n)
        return ByteCursor(bytes: bytes, pos: at, end: at + n, what: what)
    }

    /// Skips a NUL-terminated string (`padded`: then to a multiple of 8 bytes, NUL included);
    /// returns its size with the NUL.
    @discardableResult
    mutating func string(padded: Bool) throws -> Int {
        guard let nul = bytes[pos..<end].firstIndex(of: 0) else {
            throw HeaderProblem.malformed("\(what): a name is not NUL-terminated")
        }
        let size = nul - pos + 1
        try skip(padded ? align8(size) : size)
        return size
    }
}

struct ObjectHeaderCheck {
    let layout: HDF5Layout
    let fileSize: Int
    let read: (Int, Int) -> [UInt8]?

    /// Bounds on one header: continuation chunks, and bytes in all its chunks together.
    static let maxChunks = 1024
    static let maxHeaderBytes = 64 << 20

    static let messageNames = [0x01: "dataspace", 0x02: "link info", 0x03: "datatype", 0x04: "fill value", 0x05: "fill value",
                               0x06: "link", 0x08: "data layout", 0x0A: "group info", 0x0B: "filter pipeline",
                               0x0C: "attribute", 0x10: "continuation", 0x11: "symbol table", 0x15: "attribute info",
                               0x16: "reference count"]

    private func malformed(_ why: String) -> HeaderProblem { .malformed(why) }

    /// The file offset of `count` bytes at HDF5 address `address`, if they lie within the file.
    func fileOffset(_ address: Int, _ count: Int) -> Int? {
        let (at, overflow) = layout.baseAddress.addingReportingOverflow(address)
        guard !overflow, address >= 0, count >= 0, at <= fileSize, count <= fileSize - at else { return nil }
        return at
    }

    /// An address field: nil when undefined (all bits set); otherwise it must lie within the file.
    private func address(_ c: inout ByteCursor, _ what: String) throws -> Int? {
        let at = c.pos
        let value = try c.uint(layout.offsetSize)
        if c.bytes[at..<c.pos].allSatisfy({ $0 == 0xFF }) { return nil }
        guard fileOffset(value, 1) != nil else { throw malformed("\(what) address \(value) lies outside the file") }
        return value
    }

    private func bytes(at address: Int, _ count: Int, _ what: String) throws -> [UInt8] {
        guard let at = fileOffset(address, count), let b = read(at, count) else {
            throw malformed("\(what) at address \(address) (\(count) bytes) lies outside the file")
        }
        return b
    }

    /// Checks the object header at HDF5 address `address`.
    func check(_ address: Int) throws {
        guard let at = fileOffset(address, 1) else { throw malformed("address \(address) lies outside the file") }
        let head = read(at, min(64, fileSize - at)) ?? []
        var prefix = ByteCursor(bytes: head, pos: 0, end: head.count, what: "object header prefix")
        let version2 = head.starts(with: Array("OHDR".utf8))
        let messageHeaderSize: Int, chunkSize: Int
        if version2 {
            try prefix.skip(4)
            guard try prefix.u8() == 2 else { throw malformed("object header version is not 2") }
            let flags = try prefix.u8()
            guard flags & 0xC0 == 0 else { throw malformed("unknown object header flags \(flags)") }
            if flags & 0x20 != 0 { try prefix.skip(16) }  // access, modification, change, birth times
            if flags & 0x10 != 0 { try prefix.skip(4) }   // attribute storage phase change values
            chunkSize = try prefix.uint(1 << (flags & 3))
            messageHeaderSize = flags & 0x04 != 0 ? 6 : 4  // type, size, flags, creation order
            // The first chunk's checksum follows its messages.
            guard chunkSize <= Int.max - 4 - prefix.pos, fileOffset(address + prefix.pos, chunkSize + 4) != nil else {
                throw malformed("first chunk of \(chunkSize) bytes runs past the end of the file")
            }
        } else {
            guard try prefix.u8() == 1 else { throw malformed("unknown object header version") }
            try prefix.skip(7)  // reserved, message count, reference count
            chunkSize = try prefix.uint(4)
            try prefix.skip(4)  // reserved (alignment)
            messageHeaderSize = 8  // type (2), size (2), flags, reserved (3)
        }
        var chunks = [(address: address + prefix.pos, size: chunkSize, continued: false)]
        var seen: Set<Int> = [address]
        var total = 0
        var k = 0
        while k < chunks.count {
            let chunk = chunks[k]
            k += 1
            total += chunk.size
            guard total <= Self.maxHeaderBytes else { throw malformed("header larger than \(Self.maxHeaderBytes) bytes") }
            var c = ByteCursor(bytes: try bytes(at: chunk.address, chunk.size, "header chunk"), pos: 0, end: chunk.size,
                               what: "header chunk at address \(chunk.address)")
            if version2 && chunk.continued {
                guard c.bytes.starts(with: Array("OCHK".utf8)), chunk.size >= 8 else {
                    throw malformed("continuation chunk at address \(chunk.address) has no OCHK signature")
                }
                c.pos = 4
                c.end -= 4  // checksum
            }
            // Version 2: a remainder too small for a message header is a gap.
            while version2 ? c.remaining >= messageHeaderSize : c.remaining > 0 {
                let type = try c.uint(version2 ? 1 : 2)
                let size = try c.uint(2)
                let flags = try c.u8()
                try c.skip(messageHeaderSize - (version2 ? 4 : 5))
                guard version2 || size % 8 == 0 else { throw malformed("message size \(size) is not a multiple of 8") }
                var body = try c.take(size, Self.messageNames[type].map { "\($0) message" } ?? "message of type \(type)")
                guard flags & 0x02 == 0 else {
                    throw HeaderProblem.unsupported("a shared header message (committed datatype or shared-message table)")
                }
                if type == 0x10 {  // continuation: the next chunk
                    guard let next = try self.address(&body, "continuation chunk") else {
                        throw malformed("continuation message without an address")
                    }
                    let size = try body.uint(layout.lengthSize)
                    guard fileOffset(next, size) != nil else { throw malformed("continuation chunk runs past the end of the file") }
                    guard seen.insert(next).inserted, chunks.count < Self.maxChunks else {
                        throw malformed("continuation chunks loop or are too many")
                    }
                    chunks.append((next, size, true))
                } else {
                    try checkMessage(type, &body)
                }
            }
        }
    }

    private func checkMessage(_ type: Int, _ c: inout ByteCursor) throws {
        switch type {
        case 0x01: _ = try dataspace(&c)
        case 0x02: try linkInfo(&c)
        case 0x03: _ = try datatype(&c)
        case 0x04: try c.skip(try c.uint(4))  // old fill value: size, value
        case 0x05: try fillValue(&c)
        case 0x06: try link(&c)
        case 0x07: throw HeaderProblem.unsupported("dataset stored in an external file (a model file must hold its own data)")
        case 0x08: try dataLayout(&c)
        case 0x0A: try groupInfo(&c)
        case 0x0B: try filterPipeline(&c)
        case 0x0C: try attribute(&c)
        case 0x11: for what in ["symbol table B-tree", "symbol table heap"] {  // symbol table
            guard try address(&c, what) != nil else { throw malformed("\(what) address undefined") }
        }
        case 0x15: try attributeInfo(&c)
        case 0x16: try c.skip(5)  // reference count: version, count
        default: break  // not decoded for the loader (or not at all)
        }
    }

    /// Attribute (0x0C): name, datatype, dataspace and data, each within the message.
    private func attribute(_ c: inout ByteCursor) throws {
        let version = try c.u8()
        guard (1...3).contains(version) else { throw malformed("attribute message version \(version)") }
        let flags = try c.u8()  // reserved in version 1
        if version >= 2 && flags != 0 {
            guard flags & ~3 == 0 else { throw malformed("unknown attribute flags \(flags)") }
            throw HeaderProblem.unsupported("an attribute with a shared datatype or dataspace")
        }
        let nameSize = try c.uint(2), typeSize = try c.uint(2), spaceSize = try c.uint(2)
        if version == 3 { try c.skip(1) }  // name character set
        let padding = { (n: Int) in version == 1 ? align8(n) - n : 0 }  // version 1 pads each part to 8
        let name = try c.take(nameSize, "attribute name")
        try c.skip(padding(nameSize))
        guard nameSize > 0, c.bytes[name.pos..<name.end].firstIndex(of: 0) == name.end - 1 else {
            throw malformed("attribute name is not NUL-terminated at its declared size \(nameSize)")
        }
        var type = try c.take(typeSize, "attribute datatype")
        try c.skip(padding(typeSize))
        let elementSize = try datatype(&type)
        var space = try c.take(spaceSize, "attribute dataspace")
        try c.skip(padding(spaceSize))
        let count = try dataspace(&space)
        let (dataSize, overflow) = count.multipliedReportingOverflow(by: elementSize)
        guard !overflow, dataSize <= c.remaining else {
            throw malformed("attribute data (\(count) elements of \(elementSize) bytes) does not fit in its message")
        }
    }

    /// Attribute info (0x15): compact storage only; dense storage keeps attribute messages in a
    /// fractal heap this parser does not check (h5py writes it only for more than 8 attributes
    /// on one object with the newer file format, which Keras does not use).
    private func attributeInfo(_ c: inout ByteCursor) throws {
        guard try c.u8() == 0 else { throw malformed("attribute info version") }
        let flags = try c.u8()
        if flags & 1 != 0 { try c.skip(2) }  // maximum creation index
        if try address(&c, "attribute heap") != nil {
            throw HeaderProblem.unsupported("dense attribute storage (attributes kept in a fractal heap)")
        }
        _ = try address(&c, "attribute name index")
        if flags & 2 != 0 { _ = try address(&c, "attribute order index") }
    }

    /// Link info (0x02): the addresses of dense link storage must lie within the file.
    private func linkInfo(_ c: inout ByteCursor) throws {
        guard try c.u8() == 0 else { throw malformed("link info version") }
        let flags = try c.u8()
        if flags & 1 != 0 { try c.skip(8) }  // maximum creation index
        _ = try address(&c, "link heap")
        _ = try address(&c, "link name index")
        if flags & 2 != 0 { _ = try address(&c, "link order index") }
    }

    /// Link (0x06): name and target within the message.
    private func link(_ c: inout ByteCursor) throws {
        guard try c.u8() == 1 else { throw malformed("link message version") }
        let flags = try c.u8()
        guard flags & 0xE0 == 0 else { throw malformed("unknown link flags \(flags)") }
        let type = flags & 0x08 != 0 ? try c.u8() : 0
        if flags & 0x04 != 0 { try c.skip(8) }  // creation order
        if flags & 0x10 != 0 { try c.skip(1) }  // name character set
        let nameSize = try c.uint(1 << (flags & 3))
        guard nameSize > 0 else { throw malformed("empty link name") }
        try c.skip(nameSize)
        if type == 0 {
            _ = try address(&c, "link target")
        } else {
            try c.skip(try c.uint(2))  // soft link path, external or user-defined link data
        }
    }

    private func groupInfo(_ c: inout ByteCursor) throws {
        guard try c.u8() == 0 else { throw malformed("group info version") }
        let flags = try c.u8()
        try c.skip((flags & 1 != 0 ? 4 : 0) + (flags & 2 != 0 ? 4 : 0))
    }

    /// A datatype encoding (a datatype message, or inside an attribute or another datatype);
    /// returns the element size it declares.
    private func datatype(_ c: inout ByteCursor, depth: Int = 0) throws -> Int {
        guard depth < 16 else { throw malformed("datatype nested too deeply") }
        let head = try c.uint(4)
        let cls = head & 0x0F, version = head >> 4 & 0x0F, bits = head >> 8
        guard (1...3).contains(version) else { throw malformed("datatype version \(version)") }
        let size = try c.uint(4)
        switch cls {
        case 0, 4: try c.skip(4)  // integer, bitfield: bit offset and precision
        case 1: try c.skip(12)    // float: offset, precision, exponent and mantissa fields, bias
        case 2: try c.skip(2)     // time: precision
        case 3, 7: break          // string, reference
        case 5: try c.skip(bits & 0xFF)  // opaque: its tag
        case 6:  // compound: members' name, offset, (version 1) array dimensions, type
            for _ in 0..<(bits & 0xFFFF) {
                try c.string(padded: version < 3)
                try c.skip(version < 3 ? 4 : bytesToEncode(size))
                if version == 1 {
                    guard try c.u8() <= 4 else { throw malformed("compound member of more than 4 dimensions") }
                    try c.skip(3 + 4 + 4 + 16)
                }
                _ = try datatype(&c, depth: depth + 1)
            }
        case 8:  // enumeration: base type, names, values
            let members = bits & 0xFFFF
            let base = try datatype(&c, depth: depth + 1)
            for _ in 0..<members { try c.string(padded: version < 3) }
            let (values, overflow) = members.multipliedReportingOverflow(by: base)
            guard !overflow else { throw malformed("enumeration values overflow") }
            try c.skip(values)
        case 9:  // variable-length sequence or string: base type
            guard size == layout.referenceSize else { throw malformed("variable-length datatype of size \(size)") }
            _ = try datatype(&c, depth: depth + 1)
        case 10:  // array: dimensions, (before version 3) permutation, base type
            let rank = try c.u8()
            guard version >= 2, (1...32).contains(rank) else { throw malformed("array datatype of rank \(rank)") }
            try c.skip((version < 3 ? 3 : 0) + rank * (version < 3 ? 8 : 4))
            _ = try datatype(&c, depth: depth + 1)
        default: throw malformed("unknown datatype class \(cls)")
        }
        return size
    }

    /// A dataspace encoding; returns its element count (Int.max if that overflows).
    private func dataspace(_ c: inout ByteCursor) throws -> Int {
        let version = try c.u8()
        guard version == 1 || version == 2 else { throw malformed("dataspace version \(version)") }
        let rank = try c.u8()
        guard rank <= 32 else { throw malformed("dataspace of rank \(rank)") }
        let flags = try c.u8()
        var count = 1
        if version == 2 {
            let type = try c.u8()  // scalar, simple or null
            guard type <= 2 else { throw malformed("dataspace type \(type)") }
            if type == 2 { count = 0 }
        } else {
            try c.skip(5)  // reserved
        }
        for _ in 0..<rank {
            let (n, overflow) = count.multipliedReportingOverflow(by: try c.uint(layout.lengthSize))
            count = overflow ? Int.max : n
        }
        if flags & 1 != 0 { try c.skip(rank * layout.lengthSize) }  // maximum dimensions
        return count
    }

    /// Fill value (0x05): a stored value must fit in the message.
    private func fillValue(_ c: inout ByteCursor) throws {
        let version = try c.u8()
        guard (1...3).contains(version) else { throw malformed("fill value version \(version)") }
        let hasValue: Bool
        if version < 3 {
            try c.skip(2)  // allocation and write times
            hasValue = try c.u8() != 0 || version == 1
        } else {
            hasValue = try c.u8() & 0x20 != 0
        }
        if hasValue { try c.skip(try c.uint(4)) }
    }

    /// Data layout (0x08): compact data within the message, chunk dimensions bounded; virtual
    /// datasets (mapped from other files) refused.
    private func dataLayout(_ c: inout ByteCursor) throws {
        let version = try c.u8()
        guard (1...4).contains(version) else { throw malformed("data layout version \(version)") }
        let maxRank = 33  // dataset rank + 1 (the element)
        if version < 3 {
            let rank = try c.u8(), cls = try c.u8()
            guard rank <= maxRank, cls <= 2 else { throw malformed("data layout of class \(cls), rank \(rank)") }
            try c.skip(5)
            if cls != 0 { _ = try address(&c, "data") }
            try c.skip(rank * 4)
            if cls == 0 { try c.skip(try c.uint(4)) }
            return
        }
        switch try c.u8() {
        case 0: try c.skip(try c.uint(2))  // compact: size, data
        case 1: _ = try address(&c, "data"); try c.skip(layout.lengthSize)
        case 2 where version == 3:
            let rank = try c.u8()
            guard rank <= maxRank else { throw malformed("chunked layout of rank \(rank)") }
            _ = try address(&c, "chunk index")
            try c.skip(rank * 4)
        case 2:
            let flags = try c.u8(), rank = try c.u8(), width = try c.u8()
            guard rank <= maxRank, (1...8).contains(width) else { throw malformed("chunked layout of rank \(rank)") }
            try c.skip(rank * width)
            switch try c.u8() {  // chunk index type and its parameters
            case 1: if flags & 2 != 0 { try c.skip(layout.lengthSize + 4) }
            case 2: break
            case 3: try c.skip(1)
            case 4: try c.skip(5)
            case 5: try c.skip(6)
            default: throw malformed("unknown chunk index type")
            }
            _ = try address(&c, "chunk index")
        case 3: throw HeaderProblem.unsupported("virtual dataset (mapped from other files)")
        default: throw malformed("unknown data layout class")
        }
    }

    /// Filter pipeline (0x0B): filter names NUL-terminated within their sizes, parameters within the message.
    private func filterPipeline(_ c: inout ByteCursor) throws {
        let version = try c.u8()
        guard version == 1 || version == 2 else { throw malformed("filter pipeline version \(version)") }
        let filters = try c.u8()
        guard filters <= 32 else { throw malformed("\(filters) filters") }
        if version == 1 { try c.skip(6) }
        for _ in 0..<filters {
            let id = try c.uint(2)
            let nameSize = version == 1 || id >= 256 ? try c.uint(2) : 0
            try c.skip(2)  // flags
            let values = try c.uint(2)
            if nameSize > 0 {
                var name = try c.take(nameSize, "filter name")
                try name.string(padded: false)
            }
            try c.skip(values * 4 + (version == 1 && values % 2 == 1 ? 4 : 0))
        }
    }

    /// Before libhdf5 opens a file, which reads the root group's header (and decodes a superblock
    /// extension's messages): finds the superblock where libhdf5 looks for it (offset 0, 512, 1024,
    /// ...) and checks those headers. Returns false if there is no superblock.
    static func checkBeforeOpening(fileSize: Int, read: @escaping (Int, Int) -> [UInt8]?) throws -> Bool {
        let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
        var base = 0
        while read(base, 8) != signature {
            base = base == 0 ? 512 : base * 2
            guard base <= fileSize - 8 else { return false }
        }
        guard let head = read(base, min(fileSize - base, 128)), head.count > 15 else { throw HeaderProblem.malformed("superblock truncated") }
        let version = Int(head[8])
        let sizes = version < 2 ? (Int(head[13]), Int(head[14])) : (Int(head[9]), Int(head[10]))
        guard (2...8).contains(sizes.0), (2...8).contains(sizes.1) else { throw HeaderProblem.malformed("superblock sizes") }
        let check = ObjectHeaderCheck(layout: HDF5Layout(offsetSize: sizes.0, lengthSize: sizes.1, baseAddress: base),
                                      fileSize: fileSize, read: read)
        var c = ByteCursor(bytes: head, pos: 0, end: head.count, what: "superblock")
        switch version {
        case 0, 1:  // ..., 4 addresses, root symbol table entry: name offset, header address
            try c.skip((version == 0 ? 24 : 28) + 5 * sizes.0)
            guard let root = try check.address(&c, "root group") else { throw HeaderProblem.malformed("no root group") }
            try check.check(root)
        case 2, 3:  // ..., base address, extension address, end of file, root header address
            try c.skip(12 + sizes.0)
            let ext = try check.address(&c, "superblock extension")
            try c.skip(sizes.0)
            guard let root = try check.address(&c, "root group") else { throw HeaderProblem.malformed("no root group") }
            try check.check(root)
            if let ext { try check.check(ext) }
        default: throw HeaderProblem.malformed("superblock version \(version)")
        }
        return true
    }

    /// Bytes of a compound member offset in datatype version 3: the fewest that hold `size`.
    private func bytesToEncode(_ size: Int) -> Int {
        var n = 1, v = size >> 8
        while v > 0 { n += 1; v >>= 8 }
        return n
    }
}
