/// Recognises a Keras file by its content and builds the IR graph it describes:
/// full-model HDF5 (every generation), `.keras` archives, or an architecture JSON plus a
/// weights-only HDF5 file (legacy `save_weights` layout or Keras 3 `.weights.h5`).
enum KerasLoader {
    static let hdf5Signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]

    /// Default of `maxWeightBytes`: 4 GiB.
    static let defaultMaxWeightBytes = 4 << 30

    /// `maxWeightBytes` bounds what a file can make the loader allocate: the float32 weights it
    /// reads in total, and each member it decompresses from a .keras archive.
    static func load(path: String, weightsPath: String?, kerasVersion: String?,
                     maxWeightBytes: Int = defaultMaxWeightBytes) throws -> IRGraph {
        let head = try readPrefix(path, count: 8)
        guard !head.isEmpty else { throw DLError.format("\(path): empty file") }
        if head == hdf5Signature {
            if weightsPath != nil {
                throw DLError(.invalidArgument, "\(path) is a full-model HDF5 file; weights_path must be NULL for it")
            }
            return try loadFullHDF5(path, kerasVersion: kerasVersion, maxWeightBytes: maxWeightBytes)
        }
        let bytes = try readWholeFile(path)
        if ZipArchive.looksLikeZip(bytes) {
            if weightsPath != nil {
                throw DLError(.invalidArgument, "\(path) is a .keras archive; weights_path must be NULL for it")
            }
            return try loadArchive(bytes, label: path, kerasVersion: kerasVersion, maxWeightBytes: maxWeightBytes)
        }
        if bytes.first(where: { ![0x20, 0x09, 0x0A, 0x0D, 0xEF, 0xBB, 0xBF].contains($0) }) == UInt8(ascii: "{") {
            guard let weightsPath else {
                throw DLError(.invalidArgument, "\(path) is an architecture JSON; pass the weights file as weights_path")
            }
            return try loadJSONWithWeights(bytes, label: path, weightsPath: weightsPath, kerasVersion: kerasVersion,
                                           maxWeightBytes: maxWeightBytes)
        }
        throw DLError.format("\(path): not a Keras model file (expected HDF5 .h5, a .keras archive, or an architecture JSON)")
    }

    /// Loads any form `load(path:...)` accepts from bytes in memory: a full-model HDF5 image, the
    /// bytes of a .keras archive, or an architecture JSON with `weights` holding the HDF5 weights
    /// file's bytes. Nothing is written to disk: HDF5 images are opened with the core driver
    /// (no backing store) under a name unique to this load.
    static func load(data: [UInt8], weights: [UInt8]?, kerasVersion: String?,
                     maxWeightBytes: Int = defaultMaxWeightBytes) throws -> IRGraph {
        let label = "<memory>"
        guard !data.isEmpty else { throw DLError.format("\(label): empty data") }
        if data.starts(with: hdf5Signature) {
            if weights != nil {
                throw DLError(.invalidArgument, "\(label) is a full-model HDF5 file; weights must be NULL for it")
            }
            let file = try HDF5File(image: data, label: uniqueImageName(label), maxWeightBytes: maxWeightBytes)
            return try buildFullHDF5(file, label: label, kerasVersion: kerasVersion)
        }
        if ZipArchive.looksLikeZip(data) {
            if weights != nil {
                throw DLError(.invalidArgument, "\(label) is a .keras archive; weights must be NULL for it")
            }
            return try loadArchive(data, label: label, kerasVersion: kerasVersion, maxWeightBytes: maxWeightBytes)
        }
        if data.first(where: { ![0x20, 0x09, 0x0A, 0x0D, 0xEF, 0xBB, 0xBF].contains($0) }) == UInt8(ascii: "{") {
            guard let weights else {
                throw DLError(.invalidArgument, "\(label) is an architecture JSON; pass the weights file's bytes as weights")
            }
            let config = try withContext(label) { try JSON.parse(data) }
            let weightsLabel = "<memory weights>"
            guard weights.starts(with: hdf5Signature) else { throw DLError.format("\(weightsLabel): not an HDF5 weights file") }
            let file = try HDF5File(image: weights, label: uniqueImageName(weightsLabel), maxWeightBytes: maxWeightBytes)
            return try buildJSONWithWeights(config, file, label: label, weightsLabel: weightsLabel, kerasVersion: kerasVersion)
        }
        throw DLError.format("\(label): not a Keras model file (expected HDF5 .h5, a .keras archive, or an architecture JSON)")
    }

    /// Guarded by hdf5Lock.
    nonisolated(unsafe) private static var imageCounter = 0

    /// HDF5 identifies open files by name, and an in-memory image has no other identity: each one
    /// gets a name of its own so that concurrent loads never share an open file.
    private static func uniqueImageName(_ label: String) -> String {
        let n: Int = withHDF5 { imageCounter += 1; return imageCounter }
        return "\(label)#\(n)"
    }

    private static func loadFullHDF5(_ path: String, kerasVersion: String?, maxWeightBytes: Int) throws -> IRGraph {
        let file = try HDF5File(path: path, maxWeightBytes: maxWeightBytes)
        return try buildFullHDF5(file, label: path, kerasVersion: kerasVersion)
    }

    private static func buildFullHDF5(_ file: HDF5File, label path: String, kerasVersion: String?) throws -> IRGraph {
        let root = file.root
        guard let configText = try root.stringAttribute("model_config") else {
            if try root.hasAttribute("layer_names") || root.kind(of: "layers") == .group {
                throw DLError(.invalidArgument, "\(path) holds weights only; load the architecture JSON with this file as weights_path")
            }
            throw DLError.format("\(path): HDF5 file without a 'model_config' attribute is not a Keras model")
        }
        let semantics = KerasSemantics(kerasVersion: try root.stringAttribute("keras_version") ?? kerasVersion)
        let config = try withContext("\(path): model_config") { try JSON.parse(configText) }
        let weightsRoot = try root.kind(of: "model_weights") == .group ? root.child("model_weights") : root
        return try withContext(path) {
            try KerasModelBuilder(semantics: semantics).build(model: config, weights: LegacyWeightStore(root: weightsRoot))
        }
    }

    private static func loadArchive(_ bytes: [UInt8], label: String, kerasVersion: String?, maxWeightBytes: Int) throws -> IRGraph {
        let zip = try ZipArchive(bytes: bytes, label: label, maxMemberBytes: maxWeightBytes)
        guard let configBytes = try zip.read("config.json") else {
            throw DLError.format("\(label): zip archive without config.json is not a .keras model")
        }
        let config = try withContext("\(label): config.json") { try JSON.parse(configBytes) }
        var version = kerasVersion
        if let meta = try zip.read("metadata.json"), let v = try JSON.parse(meta)["keras_version"]?.string { version = v }
        guard let weightBytes = try zip.read("model.weights.h5") else {
            if zip.entries.contains(where: { $0.name.hasSuffix(".npz") }) {
                throw DLError.unsupported("\(label): weights stored as npz are not supported (save with the default h5 weights format)")
            }
            throw DLError.format("\(label): archive has no model.weights.h5")
        }
        // Named uniquely: two archives loading at once (two in-memory ones are both "<memory>")
        // must not share an open HDF5 file.
        let file = try HDF5File(image: weightBytes, label: uniqueImageName("\(label):model.weights.h5"), maxWeightBytes: maxWeightBytes)
        return try withContext(label) {
            try KerasModelBuilder(semantics: KerasSemantics(kerasVersion: version))
                .build(model: config, weights: VarsWeightStore(scope: file.root))
        }
    }

    private static func loadJSONWithWeights(_ bytes: [UInt8], label: String, weightsPath: String, kerasVersion: String?,
                                            maxWeightBytes: Int) throws -> IRGraph {
        let config = try withContext(label) { try JSON.parse(bytes) }
        let head = try readPrefix(weightsPath, count: 8)
        guard head == hdf5Signature else { throw DLError.format("\(weightsPath): not an HDF5 weights file") }
        let file = try HDF5File(path: weightsPath, maxWeightBytes: maxWeightBytes)
        return try buildJSONWithWeights(config, file, label: label, weightsLabel: weightsPath, kerasVersion: kerasVersion)
    }

    private static func buildJSONWithWeights(_ config: JSON, _ file: HDF5File, label: String, weightsLabel weightsPath: String,
                                             kerasVersion: String?) throws -> IRGraph {
        let root = file.root
        let store: WeightStore
        if try root.kind(of: "model_weights") == .group {
            store = LegacyWeightStore(root: root.child("model_weights"))
        } else if try root.hasAttribute("layer_names") {
            store = LegacyWeightStore(root: root)
        } else if try root.kind(of: "layers") == .group || root.kind(of: "vars") == .group {
            store = VarsWeightStore(scope: root)
        } else {
            throw DLError.format("\(weightsPath): HDF5 file is neither a legacy nor a Keras 3 weights file")
        }
        let fileVersion = try root.stringAttribute("keras_version")
        let version = config["keras_version"]?.string ?? fileVersion ?? kerasVersion
        return try withContext(label) {
            try KerasModelBuilder(semantics: KerasSemantics(kerasVersion: version)).build(model: config, weights: store)
        }
    }
}
