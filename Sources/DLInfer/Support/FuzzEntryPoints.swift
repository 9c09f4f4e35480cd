/// Entry points for the fuzz targets (Sources/dlinfer-fuzz, tools/fuzz.sh): each feeds arbitrary
/// bytes to one parser of the engine and returns whether they were accepted. Any error is a clean
/// rejection; a crash, hang, leak or sanitizer report is a bug. Not for other uses.
public enum FuzzEntryPoints {
    /// The JSON reader (model configs, .keras config.json/metadata.json).
    public static func json(_ bytes: [UInt8]) -> Bool {
        (try? JSON.parse(bytes)) != nil
    }

    /// The zip reader (.keras archives): opens the archive and inflates every member, capped at
    /// 64 MiB each so that the fuzzer's memory limit is not what ends a run.
    public static func zip(_ bytes: [UInt8]) -> Bool {
        guard let archive = try? ZipArchive(bytes: bytes, label: "<fuzz>", maxMemberBytes: 64 << 20) else { return false }
        for entry in archive.entries { _ = try? archive.read(entry.name) }
        return true
    }
}
