/// Variable-length strings (how h5py stores Keras' model_config, layer_names and weight_names)
/// live in the file's global heap; an attribute holds references to them. libhdf5 1.10 trusts a
/// reference's object index and both stored lengths, so a corrupt file makes it copy wild lengths,
/// overrun the buffer it sized from the other length, or loop forever. The loader reads the
/// references raw (see dl_h5_raw_vlen_convert in shim.h) and the heap itself, checking every bound.

/// Most bytes of string data one attribute may yield (Keras' largest, model_config, is a few MB).
let maxAttributeBytes = 64 << 20

/// How the file encodes addresses and lengths (from its superblock).
struct HDF5Layout {
    let offsetSize: Int
    let lengthSize: Int
    /// Where address 0 is in the file (after a user block, if any).
    let baseAddress: Int

    /// Size of one stored variable-length reference: length (4), collection address, object index (4).
    var referenceSize: Int { 4 + offsetSize + 4 }
}

/// A variable-length string reference as stored in an attribute.
struct HeapReference {
    let length: Int
    let collection: Int
    let index: Int

    init(_ raw: [UInt8], at offset: Int, layout: HDF5Layout) {
        length = littleEndian(raw, offset, 4)
        collection = littleEndian(raw, offset + 4, layout.offsetSize)
        index = littleEndian(raw, offset + 4 + layout.offsetSize, 4)
    }
}

/// One global heap collection ("GCOL"): its bytes and where each object's data lies in them.
struct HeapCollection {
    let bytes: [UInt8]
    let objects: [Int: Range<Int>]

    /// Parses the collection at file offset `at`; nil when it is not a well-formed collection
    /// that fits in the file.
    init?(at: Int, layout: HDF5Layout, read: (Int, Int) -> [UInt8]?) {
        let headerSize = align8(8 + layout.lengthSize)
        guard let head = read(at, 8 + layout.lengthSize), Array(head[0..<5]) == Array("GCOL\u{1}".utf8) else { return nil }
        let size = littleEndian(head, 8, layout.lengthSize)
        guard size >= headerSize, size <= maxAttributeBytes + 4096, let bytes = read(at, size) else { return nil }
        let objectHeader = 8 + layout.lengthSize  // index (2), reference count (2), reserved (4), size
        var objects: [Int: Range<Int>] = [:]
        var p = headerSize
        while p + objectHeader <= size {
            let index = littleEndian(bytes, p, 2)
            if index == 0 { break }  // free space: the rest of the collection
            let length = littleEndian(bytes, p + 8, layout.lengthSize)
            let start = p + objectHeader
            guard length <= size - start, objects[index] == nil else { return nil }
            objects[index] = start..<(start + length)
            p = start + align8(length)
        }
        self.bytes = bytes
        self.objects = objects
    }

    func string(_ ref: HeapReference) -> String? {
        guard let range = objects[ref.index], range.count == ref.length else { return nil }
        var data = bytes[range]
        if let nul = data.firstIndex(of: 0) { data = data[..<nul] }
        return String(decoding: data, as: UTF8.self)
    }
}

func align8(_ n: Int) -> Int { (n + 7) & ~7 }

/// An unsigned little-endian integer of `size` bytes (at most 8; larger reads as Int.max).
func littleEndian(_ bytes: [UInt8], _ offset: Int, _ size: Int) -> Int {
    guard size <= 8 else { return Int.max }
    var v: UInt64 = 0
    for k in stride(from: size - 1, through: 0, by: -1) { v = v << 8 | UInt64(bytes[offset + k]) }
    return Int(clamping: v)
}
