import Foundation

/// A per-suite temporary folder for files a test writes (crafted or edited models).
struct ScratchFiles {
    let folder: String

    init(_ prefix: String) {
        folder = NSTemporaryDirectory() + "\(prefix)-\(getpid())-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let p = "\(folder)/\(name)"
        _ = FileManager.default.createFile(atPath: p, contents: Data(bytes))
        return p
    }
}
