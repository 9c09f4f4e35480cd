import CHDF5
import CZlib
@testable import DLInfer
import Foundation
import Testing

/// Files crafted to make the loaders read other files, allocate without bound or block: each is
/// written here at run time (HDF5 through its C API, zips and JPEGs byte by byte).
@Suite struct HostileFileTests {
    let scratch = ScratchFiles("dlinfer-hostile")
    var tmp: String { scratch.folder }

    func write(_ name: String, _ bytes: [UInt8]) -> String { scratch.write(name, bytes) }

    // MARK: A tiny Keras 3 model whose weights file is written through the HDF5 C API

    /// Input(2) -> Dense(1), Keras 3 functional config; its weights live at layers/dense/vars/{0,1}.
    static let denseArchitecture = #"""
    {"class_name": "Functional", "config": {"name": "tiny", "layers": [
      {"class_name": "InputLayer", "name": "input_layer", "inbound_nodes": [],
       "config": {"batch_shape": [null, 2], "dtype": "float32", "name": "input_layer"}},
      {"class_name": "Dense", "name": "dense",
       "config": {"name": "dense", "trainable": true, "dtype": "float32", "units": 1, "activation": "linear", "use_bias": true},
       "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": ["input_layer", 0, 0]}}], "kwargs": {}}]}],
      "input_layers": ["input_layer", 0, 0], "output_layers": ["dense", 0, 0]}}
    """#

    /// Writes a float32 dataset `name` under `loc` with `dims`, `dcpl` and (when given) `values`.
    static func dataset(_ loc: hid_t, _ name: String, _ dims: [hsize_t], dcpl: hid_t = dl_h5p_default(), values: [Float]? = nil) {
        let space = H5Screate_simple(Int32(dims.count), dims, nil)
        defer { H5Sclose(space) }
        let did = H5Dcreate2(loc, name, dl_h5t_native_float(), space, dl_h5p_default(), dcpl, dl_h5p_default())
        if let values { _ = values.withUnsafeBytes { H5Dwrite(did, dl_h5t_native_float(), dl_h5s_all(), dl_h5s_all(), dl_h5p_default(), $0.baseAddress) } }
        H5Dclose(did)
    }

    /// The tiny model's weights file; `kernel` creates dataset "0" in the vars group (a good one by default).
    func tinyModel(_ tag: String, kernel: (hid_t) -> Void = { dataset($0, "0", [2, 1], values: [0.5, -1]) }) -> (json: String, weights: String) {
        let json = write("\(tag).json", Array(Self.denseArchitecture.utf8))
        let weights = "\(tmp)/\(tag).weights.h5"
        let fid = H5Fcreate(weights, dl_h5f_acc_trunc(), dl_h5p_default(), dl_h5p_default())
        let vars = H5Gcreate2(fid, "layers/dense/vars", Self.intermediateGroups, dl_h5p_default(), dl_h5p_default())
        kernel(vars)
        Self.dataset(vars, "1", [1], values: [0.25])
        H5Gclose(vars)
        H5Fclose(fid)
        return (json, weights)
    }

    /// Link creation that makes missing intermediate groups.
    static let intermediateGroups: hid_t = {
        let lcpl = H5Pcreate(dl_h5p_link_create())
        H5Pset_create_intermediate_group(lcpl, 1)
        return lcpl
    }()

    /// An HDF5 file holding one float dataset "/data" (the target of links and virtual mappings).
    func otherFile(_ name: String) -> String {
        let path = "\(tmp)/\(name)"
        let fid = H5Fcreate(path, dl_h5f_acc_trunc(), dl_h5p_default(), dl_h5p_default())
        Self.dataset(fid, "data", [2, 1], values: [7, 8])
        H5Fclose(fid)
        return path
    }

    func tinyLoadError(_ files: (json: String, weights: String), maxWeightBytes: Int? = nil) -> DLError? {
        caughtDLError {
            if let maxWeightBytes {
                _ = try KerasLoader.load(path: files.json, weightsPath: files.weights, kerasVersion: nil, maxWeightBytes: maxWeightBytes)
            } else {
                _ = try Model(path: files.json, weightsPath: files.weights)
            }
        }
    }

    @Test func tinyModelLoads() throws {
        let files = tinyModel("good")
        let y = try Session(model: try Model(path: files.json, weightsPath: files.weights)).run([([1, 2], .float32([1, 1]))])
        #expect(y[0].data == [0.5 - 1 + 0.25])
    }

    // MARK: 1. Reading other local files

    @Test func externalStorageIsRefused() {
        let secret = write("secret.bin", [UInt8](repeating: 0x41, count: 64))
        let files = tinyModel("external-storage") { vars in
            let dcpl = H5Pcreate(dl_h5p_dataset_create())
            H5Pset_external(dcpl, secret, 0, 8)
            Self.dataset(vars, "0", [2, 1], dcpl: dcpl)
            H5Pclose(dcpl)
        }
        let e = tinyLoadError(files)
        #expect(e?.kind == .unsupported)
        #expect(e?.message.contains("layers/dense/vars/0") == true && e?.message.contains("external file") == true, "\(e?.message ?? "")")
    }

    @Test func externalLinkIsRefused() {
        let other = otherFile("elink-target.h5")
        let files = tinyModel("external-link") { vars in
            H5Lcreate_external(other, "/data", vars, "0", dl_h5p_default(), dl_h5p_default())
        }
        let e = tinyLoadError(files)
        #expect(e?.kind == .unsupported)
        #expect(e?.message.contains("layers/dense/vars/0") == true && e?.message.contains("external link") == true, "\(e?.message ?? "")")
    }

    @Test func externalLinkedGroupIsRefused() {
        // The whole vars group is an external link: listing it must not open the other file.
        let other = otherFile("elink-group-target.h5")
        let json = write("elink-group.json", Array(Self.denseArchitecture.utf8))
        let weights = "\(tmp)/elink-group.weights.h5"
        let fid = H5Fcreate(weights, dl_h5f_acc_trunc(), dl_h5p_default(), dl_h5p_default())
        let dense = H5Gcreate2(fid, "layers/dense", Self.intermediateGroups, dl_h5p_default(), dl_h5p_default())
        H5Lcreate_external(other, "/", dense, "vars", dl_h5p_default(), dl_h5p_default())
        H5Gclose(dense)
        H5Fclose(fid)
        let e = tinyLoadError((json, weights))
        #expect(e?.kind == .unsupported)
        #expect(e?.message.contains("layers/dense/vars") == true && e?.message.contains("external link") == true, "\(e?.message ?? "")")
    }

    @Test func softLinkIsRefused() {
        let files = tinyModel("soft-link") { vars in
            let fid = H5Iget_file_id(vars)
            Self.dataset(fid, "elsewhere", [2, 1], values: [1, 2])
            H5Fclose(fid)
            H5Lcreate_soft("/elsewhere", vars, "0", dl_h5p_default(), dl_h5p_default())
        }
        let e = tinyLoadError(files)
        #expect(e?.kind == .unsupported)
        #expect(e?.message.contains("soft link") == true, "\(e?.message ?? "")")
    }

    @Test func virtualDatasetIsRefused() {
        let other = otherFile("vds-source.h5")
        let files = tinyModel("virtual") { vars in
            let dims: [hsize_t] = [2, 1]
            let space = H5Screate_simple(2, dims, nil)
            let dcpl = H5Pcreate(dl_h5p_dataset_create())
            H5Pset_virtual(dcpl, space, other, "/data", space)
            Self.dataset(vars, "0", dims, dcpl: dcpl)
            H5Pclose(dcpl)
            H5Sclose(space)
        }
        let e = tinyLoadError(files)
        #expect(e?.kind == .unsupported)
        #expect(e?.message.contains("layers/dense/vars/0") == true && e?.message.contains("virtual") == true, "\(e?.message ?? "")")
    }

    @Test func splitDriverFileIsRefused() {
        // A file written with the multi/split driver keeps its raw data in a second file.
        let base = "\(tmp)/split"
        let fapl = H5Pcreate(dl_h5p_file_access())
        H5Pset_fapl_split(fapl, "-m.h5", dl_h5p_default(), "-r.h5", dl_h5p_default())
        let fid = H5Fcreate(base, dl_h5f_acc_trunc(), dl_h5p_default(), fapl)
        H5Pclose(fapl)
        let vars = H5Gcreate2(fid, "layers/dense/vars", Self.intermediateGroups, dl_h5p_default(), dl_h5p_default())
        Self.dataset(vars, "0", [2, 1], values: [1, 2])
        Self.dataset(vars, "1", [1], values: [3])
        H5Gclose(vars)
        H5Fclose(fid)
        let json = write("split.json", Array(Self.denseArchitecture.utf8))
        let e = tinyLoadError((json, base + "-m.h5"))
        #expect(e?.kind == .format, "\(e?.message ?? "loaded")")
    }

    // MARK: 2. Memory bombs

    @Test func unbackedHugeDatasetFailsBeforeAllocating() {
        // 2^31-1 float32 elements declared (8 GiB), none stored: the file is a few KiB.
        let files = tinyModel("bomb-contiguous") { vars in Self.dataset(vars, "0", [hsize_t(Int32.max)]) }
        let e = tinyLoadError(files)
        #expect(e?.kind == .weights)
        #expect(e?.message.contains("layers/dense/vars/0") == true && e?.message.contains("stores only") == true, "\(e?.message ?? "")")
    }

    @Test func unbackedCompressedDatasetFailsBeforeAllocating() {
        let files = tinyModel("bomb-chunked") { vars in
            let dcpl = H5Pcreate(dl_h5p_dataset_create())
            let chunk: [hsize_t] = [1 << 20]
            H5Pset_chunk(dcpl, 1, chunk)
            H5Pset_deflate(dcpl, 9)
            Self.dataset(vars, "0", [hsize_t(Int32.max)], dcpl: dcpl)
            H5Pclose(dcpl)
        }
        let e = tinyLoadError(files)
        #expect(e?.kind == .weights)
        #expect(e?.message.contains("layers/dense/vars/0") == true && e?.message.contains("stores only") == true, "\(e?.message ?? "")")
    }

    @Test func weightLimitIsEnforced() throws {
        let files = tinyModel("limit")
        // kernel (8 bytes) + bias (4 bytes) fit 12 bytes, not 11.
        #expect(tinyLoadError(files, maxWeightBytes: 12) == nil)
        let e = tinyLoadError(files, maxWeightBytes: 11)
        #expect(e?.kind == .unsupported)
        #expect(e?.message.contains("maxWeightBytes") == true, "\(e?.message ?? "")")
    }

    /// A zip with one member whose sizes are declared independently of its data.
    static func zip(_ name: String, data: [UInt8], method: UInt16, declaredSize: UInt32) -> [UInt8] {
        func u16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
        func u32(_ v: UInt32) -> [UInt8] { u16(UInt16(v & 0xFFFF)) + u16(UInt16(v >> 16)) }
        let n = Array(name.utf8)
        let sizes = u32(0) + u32(UInt32(data.count)) + u32(declaredSize)  // crc, compressed, size
        let local = u32(0x0403_4B50) + u16(20) + u16(0) + u16(method) + u32(0) + sizes + u16(UInt16(n.count)) + u16(0) + n + data
        let central = u32(0x0201_4B50) + u16(20) + u16(20) + u16(0) + u16(method) + u32(0) + sizes
            + u16(UInt16(n.count)) + u16(0) + u16(0) + u16(0) + u16(0) + u32(0) + u32(0) + n
        let end = u32(0x0605_4B50) + u16(0) + u16(0) + u16(1) + u16(1) + u32(UInt32(central.count)) + u32(UInt32(local.count)) + u16(0)
        return local + central + end
    }

    /// Raw deflate of `bytes` (zlib's stream without its 2-byte header and 4-byte checksum).
    static func deflate(_ bytes: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(compressBound(uLong(bytes.count))))
        var n = uLongf(out.count)
        _ = compress2(&out, &n, bytes, uLong(bytes.count), 9)
        return Array(out[2..<(Int(n) - 4)])
    }

    @Test func zipMemberDeclaringMoreThanItsDataCanHoldIsRefused() throws {
        let bytes = Self.zip("model.weights.h5", data: Self.deflate([1, 2, 3]), method: 8, declaredSize: 0xFFFF_FFF0)
        let e = caughtDLError { _ = try ZipArchive(bytes: bytes, label: "bomb.keras").read("model.weights.h5") }
        #expect(e?.kind == .format)
        #expect(e?.message.contains("declares 4294967280 bytes") == true, "\(e?.message ?? "")")
    }

    @Test func zipMemberOverTheLimitIsRefused() throws {
        let data = [UInt8](repeating: 7, count: 5000)
        let bytes = Self.zip("config.json", data: Self.deflate(data), method: 8, declaredSize: 5000)
        #expect(try ZipArchive(bytes: bytes, label: "ok.keras", maxMemberBytes: 5000).read("config.json") == data)
        let e = caughtDLError { _ = try ZipArchive(bytes: bytes, label: "big.keras", maxMemberBytes: 4999).read("config.json") }
        #expect(e?.kind == .unsupported)
        #expect(e?.message.contains("limit") == true, "\(e?.message ?? "")")
    }

    @Test func zipBombStopsAtItsDeclaredSize() throws {
        // 64 MiB of zeros declared as 1000 bytes: inflating must stop at the declared size.
        let bytes = Self.zip("config.json", data: Self.deflate([UInt8](repeating: 0, count: 64 << 20)), method: 8, declaredSize: 1000)
        let e = caughtDLError { _ = try ZipArchive(bytes: bytes, label: "bomb.keras").read("config.json") }
        #expect(e?.kind == .format)
        #expect(e?.message.contains("more than the declared 1000 bytes") == true, "\(e?.message ?? "")")
    }

    @Test func zipStoredMemberWithMismatchedSizesIsRefused() throws {
        let bytes = Self.zip("config.json", data: [1, 2, 3], method: 0, declaredSize: 1 << 30)
        let e = caughtDLError { _ = try ZipArchive(bytes: bytes, label: "stored.keras").read("config.json") }
        #expect(e?.kind == .format)
    }

    @Test func hugeJPEGIsRefusedBeforeDecoding() throws {
        var jpeg = [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(Fixtures.root)/images/rgb_13x17_q90.jpg")))
        // Patch the frame header (SOF0/SOF2: FF C0/C2, length, precision, height, width) to 20000x20000.
        let sof = try #require((0..<(jpeg.count - 9)).first { jpeg[$0] == 0xFF && (jpeg[$0 + 1] == 0xC0 || jpeg[$0 + 1] == 0xC2) })
        jpeg[sof + 5] = 0x4E; jpeg[sof + 6] = 0x20
        jpeg[sof + 7] = 0x4E; jpeg[sof + 8] = 0x20
        let e = caughtDLError { _ = try ImageLoader.decode(jpeg, height: 8, width: 8, channels: 3, mode: .raw) }
        #expect(e?.kind == .unsupported)
        #expect(e?.message.contains("20000x20000") == true && e?.message.contains("megapixel") == true, "\(e?.message ?? "")")
    }

    @Test func hugeImageTargetIsRefused() throws {
        let file = "\(Fixtures.root)/images/rgb_13x17_q90.jpg"
        let e = caughtDLError { _ = try ImageLoader.load(path: file, height: 10_001, width: 10_001, channels: 3, mode: .raw) }
        #expect(e?.kind == .invalidArgument)
    }

    // MARK: 3. Object headers libhdf5 would misread (checked first: HDF5/ObjectHeader.swift)

    /// A full-model fixture with the size fields of its 'model_config' attribute message replaced
    /// (version 1 message: version, reserved, name size, datatype size, dataspace size, name).
    func corruptedModelConfig(_ tag: String, nameSize: UInt16? = nil, typeSize: UInt16? = nil) throws -> String {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: "\(Fixtures.root)/keras3_dense_bias_act_h5/model.h5")))
        let name = Array("model_config\0".utf8)
        let at = try #require((8..<(bytes.count - name.count)).first { bytes[$0..<($0 + name.count)].elementsEqual(name) }) - 8
        #expect(bytes[at] == 1 && bytes[at + 2] == UInt8(name.count), "not a version 1 attribute message")
        for (offset, value) in [(2, nameSize), (4, typeSize)] {
            if let value { bytes[at + offset] = UInt8(value & 0xFF); bytes[at + offset + 1] = UInt8(value >> 8) }
        }
        return write("\(tag).h5", bytes)
    }

    @Test func attributeNameWithoutNulIsRefused() throws {
        // libhdf5 1.10.8 would strdup() the name, reading past the message if no NUL followed.
        let path = try corruptedModelConfig("attr-name", nameSize: 12)
        for e in [caughtDLError { _ = try Model(path: path) },
                  caughtDLError { _ = try Model(data: [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))) }] {
            #expect(e?.kind == .format)
            #expect(e?.message.contains(":/: malformed object header: attribute name is not NUL-terminated at its declared size 12") == true,
                    "\(e?.message ?? "loaded")")
        }
    }

    @Test func attributePartsPastTheMessageAreRefused() throws {
        // libhdf5 1.10.8 would decode the datatype and copy the data from past the message.
        let e = caughtDLError { _ = try Model(path: try corruptedModelConfig("attr-type", typeSize: 0xFFF8)) }
        #expect(e?.kind == .format)
        #expect(e?.message.contains("malformed object header: attribute message runs past its end") == true, "\(e?.message ?? "loaded")")
    }

    /// The tiny model in the newest file format (version 2 object headers, link messages), with
    /// `attributes` integer attributes on the root group and `groups` more groups beside layers/dense.
    func newestFormatModel(_ tag: String, attributes: Int, groups: Int) -> (json: String, weights: String) {
        let json = write("\(tag).json", Array(Self.denseArchitecture.utf8))
        let weights = "\(tmp)/\(tag).weights.h5"
        let fapl = H5Pcreate(dl_h5p_file_access())
        H5Pset_libver_bounds(fapl, H5F_LIBVER_V110, H5F_LIBVER_V110)
        let fid = H5Fcreate(weights, dl_h5f_acc_trunc(), dl_h5p_default(), fapl)
        H5Pclose(fapl)
        let space = H5Screate(H5S_SCALAR)
        for k in 0..<attributes {
            let aid = H5Acreate2(fid, "a\(k)", dl_h5t_native_int32(), space, dl_h5p_default(), dl_h5p_default())
            var v = Int32(k)
            H5Awrite(aid, dl_h5t_native_int32(), &v)
            H5Aclose(aid)
        }
        H5Sclose(space)
        for k in 0..<groups { H5Gclose(H5Gcreate2(fid, "layers/other\(k)", Self.intermediateGroups, dl_h5p_default(), dl_h5p_default())) }
        let vars = H5Gcreate2(fid, "layers/dense/vars", Self.intermediateGroups, dl_h5p_default(), dl_h5p_default())
        Self.dataset(vars, "0", [2, 1], values: [0.5, -1])
        Self.dataset(vars, "1", [1], values: [0.25])
        H5Gclose(vars)
        H5Fclose(fid)
        return (json, weights)
    }

    @Test func newestFormatLoads() throws {
        // Version 2 headers, compact attributes, and a "layers" group of 11 links (dense storage).
        let files = newestFormatModel("latest", attributes: 3, groups: 10)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: files.weights)))
        #expect((0..<(bytes.count - 4)).contains { bytes[$0..<($0 + 4)].elementsEqual("OHDR".utf8) }, "no version 2 object header")
        let y = try Session(model: try Model(path: files.json, weightsPath: files.weights)).run([([1, 2], .float32([1, 1]))])
        #expect(y[0].data == [0.5 - 1 + 0.25])
    }

    @Test func denseAttributeStorageIsRefused() {
        // More than 8 attributes on one object: kept in a fractal heap, which is not checked.
        let files = newestFormatModel("dense-attributes", attributes: 12, groups: 0)
        let e = tinyLoadError(files)
        #expect(e?.kind == .unsupported)
        #expect(e?.message.contains("dense attribute storage") == true, "\(e?.message ?? "loaded")")
    }

    // MARK: 4. Hangs

    /// Runs `body` on another thread; if it has not returned after `seconds`, `unblock` runs and
    /// the test fails.
    func finishes(within seconds: Double, _ what: String, unblock: () -> Void, _ body: @escaping @Sendable () -> Void) {
        let done = DispatchSemaphore(value: 0)
        Thread { body(); done.signal() }.start()
        if done.wait(timeout: .now() + seconds) == .timedOut {
            Issue.record("\(what) blocked")
            unblock()
            _ = done.wait(timeout: .now() + 10)
        }
    }

    @Test func fifoIsRefusedWithoutBlocking() {
        let fifo = "\(tmp)/model.fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        let unblock = { let fd = open(fifo, O_WRONLY | O_NONBLOCK); if fd >= 0 { close(fd) } }
        let json = write("fifo.json", Array(Self.denseArchitecture.utf8))
        let attempts: [(String, @Sendable () throws -> Void)] = [
            ("model load", { _ = try Model(path: fifo) }),
            ("weights load", { _ = try Model(path: json, weightsPath: fifo) }),
            ("image load", { _ = try ImageLoader.load(path: fifo, height: 8, width: 8, channels: 3, mode: .raw) }),
        ]
        for (what, attempt) in attempts {
            let kind = LockedBox<DLError.Kind?>(nil)
            finishes(within: 10, what, unblock: unblock) {
                do { try attempt() } catch let e as DLError { kind.value = e.kind } catch {}
            }
            #expect(kind.value == .io, "\(what)")
        }
    }

    @Test func directoryIsRefused() {
        let e = caughtDLError { _ = try Model(path: tmp) }
        #expect(e?.kind == .io)
        #expect(e?.message.contains("not a regular file") == true, "\(e?.message ?? "")")
    }

    /// A functional model that chains `count` ReLU activations, listed in reverse order.
    static func reversedChain(_ count: Int, firstInput: String = "in") -> JSON {
        func ref(_ name: String) -> JSON { .array([.array([.array([.string(name), .number(0), .number(0), .object([:])])])]) }
        var layers: [JSON] = [.object(["class_name": .string("InputLayer"), "name": .string("in"),
                                       "config": .object(["name": .string("in"), "batch_input_shape": .array([.null, .number(4)])]),
                                       "inbound_nodes": .array([])])]
        for i in stride(from: count - 1, through: 0, by: -1) {
            layers.append(.object(["class_name": .string("Activation"), "name": .string("a\(i)"),
                                   "config": .object(["name": .string("a\(i)"), "activation": .string("relu")]),
                                   "inbound_nodes": ref(i == 0 ? firstInput : "a\(i - 1)")]))
        }
        return .object(["class_name": .string("Model"), "config": .object([
            "name": .string("chain"), "layers": .array(layers),
            "input_layers": .array([.array([.string("in"), .number(0), .number(0)])]),
            "output_layers": .array([.array([.string("a\(count - 1)"), .number(0), .number(0)])]),
        ])])
    }

    struct NoWeights: WeightStore {
        func layer(_ name: String) throws -> StoredWeights { .empty(name) }
        func nested(_ name: String) throws -> WeightStore { self }
    }

    @Test func reverseOrderedFunctionalModelBuildsInLinearishTime() throws {
        let model = Self.reversedChain(100_000)
        let start = DispatchTime.now()
        let g = try KerasModelBuilder(semantics: KerasSemantics(kerasVersion: "2.15")).build(model: model, weights: NoWeights())
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
        #expect(g.nodes.count >= 100_000)
        #expect(seconds < 20, "building took \(seconds) s")
    }

    @Test func unresolvableReferencesKeepTheirMessages() throws {
        func buildError(_ model: JSON) -> String? {
            do { _ = try KerasModelBuilder(semantics: KerasSemantics(kerasVersion: "2.15")).build(model: model, weights: NoWeights()); return nil }
            catch let e as DLError { return e.message } catch { return "\(error)" }
        }
        // a0 reads a layer that does not exist; the first unplaced call in config order is named,
        // with its first missing input.
        #expect(buildError(Self.reversedChain(4, firstInput: "nope"))
                == "model 'chain': layer 'a3' reads 'a2' node 0 tensor 0, which no layer produces")
        #expect(buildError(Self.reversedChain(3, firstInput: "a2"))
                == "model 'chain': layer 'a2' reads 'a1' node 0 tensor 0, which no layer produces")
        #expect(buildError(Self.reversedChain(3)) == nil)
    }
}

/// A value shared with a test's worker thread.
final class LockedBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: T
    init(_ value: T) { stored = value }
    var value: T {
        get { lock.lock(); defer { lock.unlock() }; return stored }
        set { lock.lock(); stored = newValue; lock.unlock() }
    }
}
