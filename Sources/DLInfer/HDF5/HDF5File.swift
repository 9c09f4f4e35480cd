import CHDF5
import Glibc

/// HDF5 calls are serialised: the library keeps global state, and models may load on any thread.
private let hdf5Lock: UnsafeMutablePointer<pthread_mutex_t> = {
    let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    pthread_mutex_init(m, nil)
    return m
}()

/// Whether the raw variable-length string conversion is registered (guarded by hdf5Lock).
private var rawVlenRegistered = false

func withHDF5<T>(_ body: () throws -> T) rethrows -> T {
    pthread_mutex_lock(hdf5Lock)
    defer { pthread_mutex_unlock(hdf5Lock) }
    // Error-stack printing is per thread; keep it silent: failures become DLErrors.
    H5Eset_auto2(dl_h5e_default(), nil, nil)
    if !rawVlenRegistered { rawVlenRegistered = dl_h5_register_raw_vlen() >= 0 }
    // Filter plugins are shared libraries libhdf5 would load because a file names them.
    var plugins: UInt32 = 0
    H5PLget_loading_state(&plugins)
    H5PLset_loading_state(0)
    defer { H5PLset_loading_state(plugins) }
    return try body()
}

/// Largest dataset the loader accepts, in elements (guards allocations driven by file contents).
let maxDatasetElements = 1 << 31

/// How much a compressed dataset may expand: deflate's maximum ratio. Keras never compresses
/// weights; a file claiming more than this from what it stores is refused before allocating.
let maxCompressionRatio = 1032

/// A read-only HDF5 file, opened from disk or from bytes in memory (the weights inside a .keras
/// zip). Only this file's own data is read: links to other files, external raw data, virtual
/// datasets and other file drivers are refused; so are sizes the file cannot back.
final class HDF5File {
    /// The file's bytes, read directly for the checks libhdf5 does not make.
    enum Source {
        case disk(ReadOnlyFile)
        case memory([UInt8])
    }

    let id: hid_t
    let label: String
    let source: Source
    let layout: HDF5Layout
    /// Link access that refuses external links (every check below also refuses them by type).
    let linkAccess: hid_t
    let maxWeightBytes: Int
    /// Mutable state, guarded by hdf5Lock.
    var weightBytesRead = 0
    var heapCollections: [Int: HeapCollection?] = [:]
    /// Addresses of the object headers checked so far (ObjectHeader.swift).
    var checkedHeaders: Set<Int> = []

    convenience init(path: String, maxWeightBytes: Int = KerasLoader.defaultMaxWeightBytes) throws {
        let file = try ReadOnlyFile(path)
        try Self.checkBeforeOpening(path, size: file.size) { file.read(at: $0, count: $1) }
        let id: hid_t = withHDF5 {
            let fapl = H5Pcreate(dl_h5p_file_access())
            defer { H5Pclose(fapl) }
            guard fapl >= 0, H5Pset_fapl_sec2(fapl) >= 0 else { return -1 }
            return H5Fopen(file.stablePath, dl_h5f_acc_rdonly(), fapl)
        }
        try self.init(id: id, label: path, source: .disk(file), maxWeightBytes: maxWeightBytes)
    }

    convenience init(image: [UInt8], label: String, maxWeightBytes: Int = KerasLoader.defaultMaxWeightBytes) throws {
        try Self.checkBeforeOpening(label, size: image.count) { at, count in
            guard at >= 0, count >= 0, at <= image.count, count <= image.count - at else { return nil }
            return Array(image[at..<(at + count)])
        }
        let id: hid_t = withHDF5 {
            let fapl = H5Pcreate(dl_h5p_file_access())
            defer { H5Pclose(fapl) }
            guard fapl >= 0, H5Pset_fapl_core(fapl, 1 << 16, false) >= 0 else { return -1 }
            // HDF5 copies the image; it never writes through this pointer.
            let ok = image.withUnsafeBytes { H5Pset_file_image(fapl, UnsafeMutableRawPointer(mutating: $0.baseAddress), $0.count) }
            guard ok >= 0 else { return -1 }
            return H5Fopen(label, dl_h5f_acc_rdonly(), fapl)
        }
        try self.init(id: id, label: label, source: .memory(image), maxWeightBytes: maxWeightBytes)
    }

    private init(id: hid_t, label: String, source: Source, maxWeightBytes: Int) throws {
        guard id >= 0 else { throw DLError.format("\(label): not a readable HDF5 file (corrupt or truncated?)") }
        let setUp: (HDF5Layout, hid_t)? = withHDF5 {
            guard let layout = Self.layout(of: id) else { return nil }
            let lapl = H5Pcreate(dl_h5p_link_access())
            guard lapl >= 0, dl_h5p_deny_external_links(lapl) >= 0 else { return nil }
            return (layout, lapl)
        }
        guard let setUp else {
            _ = withHDF5 { H5Fclose(id) }
            throw DLError.format("\(label): not a readable HDF5 file (corrupt or truncated?)")
        }
        self.id = id
        self.label = label
        self.source = source
        self.maxWeightBytes = maxWeightBytes
        layout = setUp.0
        linkAccess = setUp.1
        // libhdf5 has read the root group's header, but decodes its messages only when asked.
        try withHDF5 { try checkHeader(at: dl_h5o_address(id), "/") }
    }

    deinit { withHDF5 { H5Pclose(linkAccess); H5Fclose(id) } }

    private static func layout(of id: hid_t) -> HDF5Layout? {
        let fcpl = H5Fget_create_plist(id)
        guard fcpl >= 0 else { return nil }
        defer { H5Pclose(fcpl) }
        var offsetSize = 0, lengthSize = 0
        var userBlock: hsize_t = 0
        guard H5Pget_sizes(fcpl, &offsetSize, &lengthSize) >= 0, H5Pget_userblock(fcpl, &userBlock) >= 0,
              (2...8).contains(offsetSize), (2...8).contains(lengthSize) else { return nil }
        return HDF5Layout(offsetSize: offsetSize, lengthSize: lengthSize, baseAddress: Int(clamping: userBlock))
    }

    var root: HDF5Group { HDF5Group(file: self, path: "/") }

    var byteCount: Int {
        switch source {
        case .disk(let f): return f.size
        case .memory(let b): return b.count
        }
    }

    func read(at offset: Int, count: Int) -> [UInt8]? {
        switch source {
        case .disk(let f): return f.read(at: offset, count: count)
        case .memory(let b):
            guard offset >= 0, count >= 0, offset <= b.count, count <= b.count - offset else { return nil }
            return Array(b[offset..<(offset + count)])
        }
    }

    /// Whether `path` exists, following hard links only (call inside withHDF5). A soft, external
    /// or user-defined link on the way is refused: external links lead to other files, and soft
    /// links can lead to external ones.
    func exists(_ path: String) throws -> Bool {
        var prefix = ""
        for component in path.split(separator: "/") {
            prefix += "/" + component
            guard H5Lexists(id, prefix, linkAccess) > 0 else { return false }
            var address: haddr_t = 0
            let type = dl_h5l_info(id, prefix, linkAccess, &address)
            guard type == Int32(H5L_TYPE_HARD.rawValue) else {
                throw DLError.unsupported("\(label):\(prefix): \(Self.linkKind(type)); only hard links are followed (a model file must not reach other files)")
            }
            try checkHeader(at: address, prefix)
        }
        return true
    }

    /// Checks the object header at `address` (of the object at `path`) from the raw bytes, before
    /// libhdf5 decodes any of its messages (call inside withHDF5); each header once.
    func checkHeader(at address: haddr_t, _ path: String) throws {
        guard let at = Int(exactly: address) else { throw DLError.format("\(label):\(path): object header address unreadable") }
        guard !checkedHeaders.contains(at) else { return }
        try Self.reportingHeaderProblems("\(label):\(path)") {
            try ObjectHeaderCheck(layout: layout, fileSize: byteCount, read: read).check(at)
        }
        checkedHeaders.insert(at)
    }

    /// The headers H5Fopen reads (the root group's, a superblock extension's), checked before it.
    private static func checkBeforeOpening(_ label: String, size: Int, read: @escaping (Int, Int) -> [UInt8]?) throws {
        try reportingHeaderProblems("\(label):/") {
            guard try ObjectHeaderCheck.checkBeforeOpening(fileSize: size, read: read) else {
                throw DLError.format("\(label): not a readable HDF5 file (corrupt or truncated?)")
            }
        }
    }

    private static func reportingHeaderProblems(_ location: String, _ body: () throws -> Void) throws {
        do {
            try body()
        } catch HeaderProblem.malformed(let why) {
            throw DLError.format("\(location): malformed object header: \(why) (corrupt file?)")
        } catch HeaderProblem.unsupported(let what) {
            throw DLError.unsupported("\(location): \(what) is not supported")
        }
    }

    private static func linkKind(_ type: Int32) -> String {
        switch type {
        case Int32(H5L_TYPE_SOFT.rawValue): return "soft link"
        case Int32(H5L_TYPE_EXTERNAL.rawValue): return "external link (to another file)"
        default: return "link of type \(type)"
        }
    }

    /// Opens the object at `path` (call inside withHDF5); nil when it does not exist.
    func open(_ path: String) throws -> hid_t? {
        guard try exists(path) else { return nil }
        let oid = H5Oopen(id, path, linkAccess)
        return oid >= 0 ? oid : nil
    }

    /// Counts `bytes` of weights against the limit before they are allocated.
    func chargeWeights(_ bytes: Int, _ location: String) throws {
        guard bytes <= maxWeightBytes - weightBytesRead else {
            throw DLError.unsupported("\(location): the weights exceed the loader's limit of \(maxWeightBytes) bytes (maxWeightBytes)")
        }
        weightBytesRead += bytes
    }

    /// The string of a variable-length reference, read from the global heap with every bound
    /// checked; nil when the reference or the heap is malformed.
    func heapString(_ ref: HeapReference) -> String? {
        if ref.length == 0 { return "" }
        let (at, overflow) = layout.baseAddress.addingReportingOverflow(ref.collection)
        guard !overflow else { return nil }
        if heapCollections[at] == nil {
            heapCollections[at] = .some(HeapCollection(at: at, layout: layout) { read(at: $0, count: $1) })
        }
        return heapCollections[at]??.string(ref)
    }
}

/// A group addressed by absolute path; opened per call so no HDF5 handles outlive a lookup.
struct HDF5Group {
    let file: HDF5File
    let path: String

    func child(_ name: String) -> HDF5Group {
        HDF5Group(file: file, path: absolute(name))
    }

    private func absolute(_ relative: String) -> String {
        path == "/" ? "/" + relative : path + "/" + relative
    }

    var description: String { "\(file.label):\(path)" }

    /// Object kind at `relative` (nil if absent).
    enum Kind { case group, dataset, other }
    func kind(of relative: String) throws -> Kind? {
        try withHDF5 {
            guard let oid = try file.open(absolute(relative)) else { return nil }
            defer { H5Oclose(oid) }
            switch H5Iget_type(oid) {
            case H5I_GROUP: return .group
            case H5I_DATASET: return .dataset
            default: return .other
            }
        }
    }

    /// Names of the links in this group, in HDF5 name order.
    func children() throws -> [String] {
        try withHDF5 {
            guard let gid = try file.open(path) else { throw DLError.format("\(description): not a group") }
            defer { H5Oclose(gid) }
            guard H5Iget_type(gid) == H5I_GROUP else { throw DLError.format("\(description): not a group") }
            var info = H5G_info_t()
            guard H5Gget_info(gid, &info) >= 0 else { throw DLError.format("\(description): unreadable group") }
            var names: [String] = []
            for i in 0..<info.nlinks {
                let n = H5Lget_name_by_idx(gid, ".", H5_INDEX_NAME, H5_ITER_INC, i, nil, 0, file.linkAccess)
                guard n >= 0, n < 1 << 16 else { throw DLError.format("\(description): unreadable link \(i)") }
                var buf = [CChar](repeating: 0, count: Int(n) + 1)
                _ = H5Lget_name_by_idx(gid, ".", H5_INDEX_NAME, H5_ITER_INC, i, &buf, buf.count, file.linkAccess)
                names.append(String(cString: buf))
            }
            return names
        }
    }

    func hasAttribute(_ name: String) throws -> Bool {
        try withHDF5 {
            guard let oid = try file.open(path) else { return false }
            defer { H5Oclose(oid) }
            return H5Aexists(oid, name) > 0
        }
    }

    /// A string attribute, or the strings of a string-array attribute. Handles fixed- and
    /// variable-length strings, and Keras' habit of splitting long attributes into name0, name1...
    func stringsAttribute(_ name: String) throws -> [String]? {
        if try hasAttribute(name) { return try readStrings(name) }
        guard try hasAttribute(name + "0") else { return nil }
        var all: [String] = []
        var k = 0
        while try hasAttribute("\(name)\(k)") {
            all += try readStrings("\(name)\(k)")
            k += 1
        }
        return all
    }

    func stringAttribute(_ name: String) throws -> String? {
        guard let s = try stringsAttribute(name) else { return nil }
        guard s.count == 1 else { throw DLError.format("\(description): attribute '\(name)' holds \(s.count) strings, expected one") }
        return s[0]
    }

    private func readStrings(_ name: String) throws -> [String] {
        try withHDF5 {
            guard let oid = try file.open(path) else { throw DLError.format("\(description): cannot open") }
            defer { H5Oclose(oid) }
            let aid = H5Aopen(oid, name, dl_h5p_default())
            guard aid >= 0 else { throw DLError.format("\(description): cannot open attribute '\(name)'") }
            defer { H5Aclose(aid) }
            let type = H5Aget_type(aid)
            guard type >= 0 else { throw unreadable(name) }
            defer { H5Tclose(type) }
            let space = H5Aget_space(aid)
            guard space >= 0 else { throw unreadable(name) }
            defer { H5Sclose(space) }
            let n = Int(H5Sget_simple_extent_npoints(space))
            guard n >= 0 else { throw unreadable(name) }
            if n == 0 { return [] }  // h5py stores an empty list as an empty float array
            guard H5Tget_class(type) == H5T_STRING else {
                throw DLError.format("\(description): attribute '\(name)' is not a string")
            }
            let stored = Int(H5Aget_storage_size(aid))
            if H5Tis_variable_str(type) > 0 { return try readVariableStrings(aid, name, count: n, stored: stored) }
            return try readFixedStrings(aid, type, name, count: n, stored: stored)
        }
    }

    private func unreadable(_ name: String) -> DLError { DLError.format("\(description): unreadable attribute '\(name)'") }

    /// `count` elements of `size` bytes must be exactly what the attribute stores, within the cap.
    private func checkStoredSize(_ name: String, count: Int, size: Int, stored: Int) throws {
        let (total, overflow) = count.multipliedReportingOverflow(by: size)
        guard !overflow, total == stored else {
            throw DLError.format("\(description): attribute '\(name)' declares \(count) strings but stores \(stored) bytes")
        }
        guard total <= maxAttributeBytes else { throw DLError.format("\(description): attribute '\(name)' too large") }
    }

    private func readVariableStrings(_ aid: hid_t, _ name: String, count n: Int, stored: Int) throws -> [String] {
        let refSize = file.layout.referenceSize
        try checkStoredSize(name, count: n, size: refSize, stored: stored)
        guard rawVlenRegistered else { throw DLError.unsupported("\(description): cannot read variable-length strings safely") }
        let mem = dl_h5t_raw_vlen(refSize)
        guard mem >= 0 else { throw unreadable(name) }
        defer { H5Tclose(mem) }
        var raw = [UInt8](repeating: 0, count: stored)
        guard H5Aread(aid, mem, &raw) >= 0 else { throw unreadable(name) }
        var total = 0
        return try (0..<n).map { k in
            let ref = HeapReference(raw, at: k * refSize, layout: file.layout)
            total += ref.length
            guard total <= maxAttributeBytes, let s = file.heapString(ref) else {
                throw DLError.format("\(description): attribute '\(name)' refers to string data the file does not hold (corrupt file?)")
            }
            return s
        }
    }

    private func readFixedStrings(_ aid: hid_t, _ type: hid_t, _ name: String, count n: Int, stored: Int) throws -> [String] {
        let size = H5Tget_size(type)
        guard size > 0 else { throw DLError.format("\(description): bad string size in '\(name)'") }
        try checkStoredSize(name, count: n, size: size, stored: stored)
        // One byte more than stored: a NUL-terminated memory type of the same size would
        // drop the last character of a full-length NULLPAD string (as Keras 2 writes them).
        let slot = size + 1
        let mem = H5Tcopy(dl_h5t_c_s1())
        guard mem >= 0 else { throw unreadable(name) }
        defer { H5Tclose(mem) }
        H5Tset_size(mem, slot)
        var buf = [UInt8](repeating: 0, count: n * slot)
        guard H5Aread(aid, mem, &buf) >= 0 else { throw unreadable(name) }
        return (0..<n).map { k in
            var bytes = Array(buf[k * slot..<(k + 1) * slot])
            if let z = bytes.firstIndex(of: 0) { bytes.removeSubrange(z...) }
            while bytes.last == 0x20 { bytes.removeLast() }
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// Reads a numeric dataset as float32 (HDF5 converts float16/64 and integers), after checking
    /// that its data is in this file and that the file can back its declared size.
    func readTensor(_ relative: String) throws -> Tensor {
        let full = absolute(relative)
        let location = "\(file.label):\(full)"
        return try withHDF5 {
            guard let did = try file.open(full) else { throw DLError.weights("\(location): dataset missing or unreadable") }
            defer { H5Oclose(did) }
            guard H5Iget_type(did) == H5I_DATASET else { throw DLError.weights("\(location): not a dataset") }
            let type = H5Dget_type(did)
            guard type >= 0 else { throw DLError.weights("\(location): dataset type unreadable") }
            defer { H5Tclose(type) }
            let cls = H5Tget_class(type)
            let elementSize = H5Tget_size(type)
            guard cls == H5T_FLOAT || cls == H5T_INTEGER, (1...8).contains(elementSize) else {
                throw DLError.weights("\(location): dataset is not numeric")
            }
            let shape = try datasetShape(did, location)
            let total = shape.reduce(1, *)  // bounded by maxDatasetElements: no overflow
            try checkStorage(did, bytes: total * elementSize, location)
            try file.chargeWeights(total * MemoryLayout<Float>.size, location)
            var data = [Float](repeating: 0, count: total)
            if total > 0 {
                let st = data.withUnsafeMutableBytes {
                    H5Dread(did, dl_h5t_native_float(), dl_h5s_all(), dl_h5s_all(), dl_h5p_default(), $0.baseAddress)
                }
                guard st >= 0 else { throw DLError.weights("\(location): dataset data unreadable (truncated file?)") }
            }
            return Tensor(shape: shape, data: data)
        }
    }

    private func datasetShape(_ did: hid_t, _ location: String) throws -> [Int] {
        let space = H5Dget_space(did)
        guard space >= 0 else { throw DLError.weights("\(location): dataset shape unreadable") }
        defer { H5Sclose(space) }
        let rank = Int(H5Sget_simple_extent_ndims(space))
        guard rank >= 0 && rank <= 16 else { throw DLError.weights("\(location): bad rank") }
        var dims = [hsize_t](repeating: 0, count: max(rank, 1))
        guard H5Sget_simple_extent_dims(space, &dims, nil) >= 0 else { throw DLError.weights("\(location): dataset shape unreadable") }
        let shape = (0..<rank).map { Int(clamping: dims[$0]) }
        var total = 1
        for d in shape {
            let (p, o) = total.multipliedReportingOverflow(by: d)
            guard !o, p <= maxDatasetElements else {
                throw DLError.weights("\(location): dataset of shape \(shape) is too large")
            }
            total = p
        }
        return shape
    }

    /// Refuses data kept outside this file (external raw-data files, virtual datasets mapping
    /// other files) and declared sizes the file cannot back: unfiltered data must be stored in
    /// full, compressed data may expand at most maxCompressionRatio times.
    private func checkStorage(_ did: hid_t, bytes: Int, _ location: String) throws {
        let dcpl = H5Dget_create_plist(did)
        guard dcpl >= 0 else { throw DLError.weights("\(location): dataset properties unreadable") }
        defer { H5Pclose(dcpl) }
        guard H5Pget_external_count(dcpl) == 0 else {
            throw DLError.unsupported("\(location): dataset stored in an external file; a model file must hold its own data")
        }
        let layout = H5Pget_layout(dcpl)
        guard layout == H5D_CONTIGUOUS || layout == H5D_CHUNKED || layout == H5D_COMPACT else {
            let what = layout == H5D_VIRTUAL ? "virtual dataset (mapped from other files)" : "dataset layout \(layout.rawValue)"
            throw DLError.unsupported("\(location): \(what) is not supported")
        }
        let stored = Int(clamping: H5Dget_storage_size(did))
        let expansion = H5Pget_nfilters(dcpl) > 0 ? maxCompressionRatio : 1
        let (backed, overflow) = stored.multipliedReportingOverflow(by: expansion)
        guard stored <= file.byteCount, overflow || bytes <= backed else {
            throw DLError.weights("\(location): dataset declares \(bytes) bytes but the file stores only \(stored) bytes of it (truncated or corrupt file?)")
        }
    }
}
