import Foundation

/// A per-test temporary folder for files a test writes (crafted or edited models), removed with
/// everything in it when the test's suite instance goes away.
final class ScratchFiles {
    let folder: String

    init(_ prefix: String) {
        folder = NSTemporaryDirectory() + "\(prefix)-\(getpid())-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: folder) }

    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let p = "\(folder)/\(name)"
        _ = FileManager.default.createFile(atPath: p, contents: Data(bytes))
        return p
    }
}
