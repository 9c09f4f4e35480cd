// Fuzz targets of the engine (issue 7; tools/fuzz.sh builds and runs them). One executable holds
// all targets; the first argument picks one:
//   loader  - the Keras loader over any bytes: full-model HDF5, .keras zip, or JSON (Model(data:))
//   json    - the JSON reader
//   zip     - the zip reader (.keras archives), every member inflated
//   image   - the JPEG decoder (ImageLoader.decode, what dl_image_decode runs)
//   config  - the config -> graph builder: bytes as architecture JSON over a fixed weights file
//             (DLFUZZ_WEIGHTS, default Tests/Fixtures/keras3_jw_seq_cnn/model.weights.h5)
//
// Built with -DDLFUZZ and -sanitize=fuzzer (tools/fuzz.sh), main hands the remaining arguments to
// libFuzzer (LLVMFuzzerRunDriver). A plain build (swift build) gets a reproducer instead:
//   dlinfer-fuzz <target> FILE...   runs each file through the target once and prints the result.
import DLInfer
#if canImport(Glibc)
import Glibc
#endif

enum Target: String, CaseIterable {
    case loader, json, zip, image, config
}

nonisolated(unsafe) var fixedWeights: [UInt8] = []

func readFile(_ path: String) -> [UInt8]? {
    guard let f = fopen(path, "rb") else { return nil }
    defer { fclose(f) }
    var bytes: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = buffer.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
        if n <= 0 { break }
        bytes.append(contentsOf: buffer[0..<n])
    }
    return bytes
}

/// One input through one target: true if accepted, false if cleanly rejected.
func runOne(_ target: Target, _ bytes: [UInt8]) -> Bool {
    switch target {
    case .loader:
        // Loader limits kept small so that a file claiming huge weights is rejected, not allocated.
        return (try? Model(data: bytes, maxWeightBytes: 64 << 20)) != nil
    case .json:
        return FuzzEntryPoints.json(bytes)
    case .zip:
        return FuzzEntryPoints.zip(bytes)
    case .image:
        // First byte picks size and mode, so that resizing and every preprocessing mode are covered.
        guard let first = bytes.first else { return false }
        let side = Int(first & 0x1F) + 1
        let channels = first & 0x20 != 0 ? 3 : 1
        let mode = ImagePreprocess(rawValue: Int32(first >> 6)) ?? .raw
        return (try? ImageLoader.decode(Array(bytes.dropFirst()), height: side, width: side + 1, channels: channels,
                                        mode: mode)) != nil
    case .config:
        return (try? Model(data: bytes, weights: fixedWeights, maxWeightBytes: 64 << 20)) != nil
    }
}

func loadFixedWeights() {
    let path = getenv("DLFUZZ_WEIGHTS").map { String(cString: $0) } ?? "Tests/Fixtures/keras3_jw_seq_cnn/model.weights.h5"
    guard let w = readFile(path) else {
        fputs("dlinfer-fuzz: cannot read the weights file \(path) (set DLFUZZ_WEIGHTS)\n", stderr)
        exit(2)
    }
    fixedWeights = w
}

var args = CommandLine.arguments
guard args.count >= 2, let target = Target(rawValue: args[1]) else {
    fputs("usage: dlinfer-fuzz {\(Target.allCases.map(\.rawValue).joined(separator: "|"))} [libFuzzer options | FILE...]\n", stderr)
    exit(2)
}
if target == .config { loadFixedWeights() }

#if DLFUZZ
nonisolated(unsafe) var selectedTarget = target

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

// libFuzzer sees the program name and the options, not the target name.
args.remove(at: 1)
var cArgs: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) } + [nil]
var argc = Int32(args.count)
let status = cArgs.withUnsafeMutableBufferPointer { buffer -> Int32 in
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = buffer.baseAddress
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        let bytes = size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : []
        _ = runOne(selectedTarget, bytes)
        return 0
    }
}
exit(status)
#else
var failed = false
for path in args.dropFirst(2) {
    guard let bytes = readFile(path) else {
        fputs("\(path): cannot read\n", stderr)
        failed = true
        continue
    }
    print("\(path): \(runOne(target, bytes) ? "accepted" : "rejected")")
}
exit(failed ? 1 : 0)
#endif
