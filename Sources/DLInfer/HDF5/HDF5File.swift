import CHDF5
import Glibc

/// HDF5 calls are serialised: the library keeps global state, and models may load on any thread.
private let hdf5Lock: UnsafeMutablePointer<pthread_mutex_t> = {
    let m = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    pthread_mutex_init(m, nil)
    return m
}()

func withHDF5<T>(_ body: () throws -> T) rethrows -> T {
    pthread_mutex_lock(hdf5Lock)
    defer { pthread_mutex_unlock(hdf5Lock) }
    // Error-stack printing is per thread; keep it silent: failures become DLErrors.
    H5Eset_auto2(dl_h5e_default(), nil, nil)
    return try body()
}

/// Largest dataset the loader accepts, in elements (guards allocations driven by file contents).
let maxDatasetElements = 1 << 31

/// A read-only HDF5 file, opened from disk or from bytes in memory (the weights inside a .keras zip).
final class HDF5File {
    let id: hid_t
    let label: String

    init(path: String) throws {
        label = path
        id = withHDF5 { H5Fopen(path, dl_h5f_acc_rdonly(), dl_h5p_default()) }
        guard id >= 0 else { throw DLError.format("\(path): not a readable HDF5 file (corrupt or truncated?)") }
    }

    init(image: [UInt8], label: String) throws {
        self.label = label
        var bytes = image
        let fid: hid_t = withHDF5 {
            let fapl = H5Pcreate(dl_h5p_file_access())
            defer { H5Pclose(fapl) }
            H5Pset_fapl_core(fapl, 1 << 16, false)
            let ok = bytes.withUnsafeMutableBytes { H5Pset_file_image(fapl, $0.baseAddress, $0.count) }
            guard ok >= 0 else { return -1 }
            return H5Fopen(label, dl_h5f_acc_rdonly(), fapl)
        }
        id = fid
        guard id >= 0 else { throw DLError.format("\(label): not a readable HDF5 file (corrupt or truncated?)") }
    }

    deinit { _ = withHDF5 { H5Fclose(id) } }

    var root: HDF5Group { HDF5Group(file: self, path: "/") }
}

/// A group addressed by absolute path; opened per call so no HDF5 handles outlive a lookup.
struct HDF5Group {
    let file: HDF5File
    let path: String

    func child(_ name: String) -> HDF5Group {
        HDF5Group(file: file, path: path == "/" ? "/" + name : path + "/" + name)
    }

    var description: String { "\(file.label):\(path)" }

    /// Object kind at `relative` (nil if absent). Each path component is checked, since HDF5
    /// fails rather than answers false when an intermediate link is missing.
    enum Kind { case group, dataset, other }
    func kind(of relative: String) -> Kind? {
        let full = path == "/" ? "/" + relative : path + "/" + relative
        return withHDF5 {
            var prefix = ""
            for component in full.split(separator: "/") {
                prefix += "/" + component
                guard H5Lexists(file.id, prefix, dl_h5p_default()) > 0 else { return nil }
            }
            let oid = H5Oopen(file.id, full, dl_h5p_default())
            guard oid >= 0 else { return nil }
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
            let gid = H5Gopen2(file.id, path, dl_h5p_default())
            guard gid >= 0 else { throw DLError.format("\(description): not a group") }
            defer { H5Gclose(gid) }
            var info = H5G_info_t()
            guard H5Gget_info(gid, &info) >= 0 else { throw DLError.format("\(description): unreadable group") }
            var names: [String] = []
            for i in 0..<info.nlinks {
                let n = H5Lget_name_by_idx(gid, ".", H5_INDEX_NAME, H5_ITER_INC, i, nil, 0, dl_h5p_default())
                guard n >= 0 else { throw DLError.format("\(description): unreadable link \(i)") }
                var buf = [CChar](repeating: 0, count: Int(n) + 1)
                _ = H5Lget_name_by_idx(gid, ".", H5_INDEX_NAME, H5_ITER_INC, i, &buf, buf.count, dl_h5p_default())
                names.append(String(cString: buf))
            }
            return names
        }
    }

    func hasAttribute(_ name: String) -> Bool {
        withHDF5 {
            let oid = H5Oopen(file.id, path, dl_h5p_default())
            guard oid >= 0 else { return false }
            defer { H5Oclose(oid) }
            return H5Aexists(oid, name) > 0
        }
    }

    /// A string attribute, or the strings of a string-array attribute. Handles fixed- and
    /// variable-length strings, and Keras' habit of splitting long attributes into name0, name1...
    func stringsAttribute(_ name: String) throws -> [String]? {
        if hasAttribute(name) { return try readStrings(name) }
        guard hasAttribute(name + "0") else { return nil }
        var all: [String] = []
        var k = 0
        while hasAttribute("\(name)\(k)") {
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
            let oid = H5Oopen(file.id, path, dl_h5p_default())
            guard oid >= 0 else { throw DLError.format("\(description): cannot open") }
            defer { H5Oclose(oid) }
            let aid = H5Aopen(oid, name, dl_h5p_default())
            guard aid >= 0 else { throw DLError.format("\(description): cannot open attribute '\(name)'") }
            defer { H5Aclose(aid) }
            let type = H5Aget_type(aid)
            defer { H5Tclose(type) }
            let space = H5Aget_space(aid)
            defer { H5Sclose(space) }
            let n = Int(H5Sget_simple_extent_npoints(space))
            if n <= 0 { return [] }  // h5py stores an empty list as an empty float array
            guard H5Tget_class(type) == H5T_STRING else {
                throw DLError.format("\(description): attribute '\(name)' is not a string")
            }
            guard n < 10_000_000 else { throw DLError.format("\(description): attribute '\(name)' too large") }
            if H5Tis_variable_str(type) > 0 {
                let mem = H5Tcopy(dl_h5t_c_s1())
                defer { H5Tclose(mem) }
                H5Tset_size(mem, dl_h5t_variable())
                H5Tset_cset(mem, H5Tget_cset(type))
                var ptrs = [UnsafeMutablePointer<CChar>?](repeating: nil, count: n)
                guard H5Aread(aid, mem, &ptrs) >= 0 else {
                    throw DLError.format("\(description): unreadable attribute '\(name)'")
                }
                let out = ptrs.map { $0.map { String(cString: $0) } ?? "" }
                H5Dvlen_reclaim(mem, space, dl_h5p_default(), &ptrs)
                return out
            }
            let size = H5Tget_size(type)
            guard size > 0, size < 1 << 24 else { throw DLError.format("\(description): bad string size in '\(name)'") }
            // One byte more than stored: a NUL-terminated memory type of the same size would
            // drop the last character of a full-length NULLPAD string (as Keras 2 writes them).
            let slot = size + 1
            let mem = H5Tcopy(dl_h5t_c_s1())
            defer { H5Tclose(mem) }
            H5Tset_size(mem, slot)
            var buf = [UInt8](repeating: 0, count: n * slot)
            guard H5Aread(aid, mem, &buf) >= 0 else {
                throw DLError.format("\(description): unreadable attribute '\(name)'")
            }
            return (0..<n).map { k in
                var bytes = Array(buf[k * slot..<(k + 1) * slot])
                if let z = bytes.firstIndex(of: 0) { bytes.removeSubrange(z...) }
                while bytes.last == 0x20 { bytes.removeLast() }
                return String(decoding: bytes, as: UTF8.self)
            }
        }
    }

    /// Reads a numeric dataset as float32 (HDF5 converts float16/64 and integers).
    func readTensor(_ relative: String) throws -> Tensor {
        let full = path == "/" ? "/" + relative : path + "/" + relative
        return try withHDF5 {
            let did = H5Dopen2(file.id, full, dl_h5p_default())
            guard did >= 0 else { throw DLError.weights("\(file.label):\(full): dataset missing or unreadable") }
            defer { H5Dclose(did) }
            let type = H5Dget_type(did)
            defer { H5Tclose(type) }
            let cls = H5Tget_class(type)
            guard cls == H5T_FLOAT || cls == H5T_INTEGER else {
                throw DLError.weights("\(file.label):\(full): dataset is not numeric")
            }
            let space = H5Dget_space(did)
            defer { H5Sclose(space) }
            let rank = Int(H5Sget_simple_extent_ndims(space))
            guard rank >= 0 && rank <= 16 else { throw DLError.weights("\(file.label):\(full): bad rank") }
            var dims = [hsize_t](repeating: 0, count: max(rank, 1))
            H5Sget_simple_extent_dims(space, &dims, nil)
            let shape = (0..<rank).map { Int(clamping: dims[$0]) }
            var total = 1
            for d in shape {
                let (p, o) = total.multipliedReportingOverflow(by: d)
                guard !o, p <= maxDatasetElements else {
                    throw DLError.weights("\(file.label):\(full): dataset of shape \(shape) is too large")
                }
                total = p
            }
            var data = [Float](repeating: 0, count: total)
            if total > 0 {
                let st = data.withUnsafeMutableBytes {
                    H5Dread(did, dl_h5t_native_float(), dl_h5s_all(), dl_h5s_all(), dl_h5p_default(), $0.baseAddress)
                }
                guard st >= 0 else { throw DLError.weights("\(file.label):\(full): dataset data unreadable (truncated file?)") }
            }
            return Tensor(shape: shape, data: data)
        }
    }
}
