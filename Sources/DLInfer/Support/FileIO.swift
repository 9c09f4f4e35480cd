import Glibc

/// Largest file the engine reads whole into memory (a .keras archive, JSON, or JPEG).
let maxReadBytes = 4 << 30

/// Reads a whole file; errors name the path.
func readWholeFile(_ path: String) throws -> [UInt8] {
    guard let f = fopen(path, "rb") else {
        throw DLError(.io, "\(path): cannot open (\(String(cString: strerror(errno))))")
    }
    defer { fclose(f) }
    var st = stat()
    guard fstat(fileno(f), &st) == 0 else { throw DLError(.io, "\(path): cannot stat") }
    guard (st.st_mode & S_IFMT) == S_IFREG else { throw DLError(.io, "\(path): not a regular file") }
    let size = Int(st.st_size)
    guard size <= maxReadBytes else { throw DLError(.io, "\(path): file too large (\(size) bytes)") }
    var bytes = [UInt8](repeating: 0, count: size)
    let n = bytes.withUnsafeMutableBytes { fread($0.baseAddress, 1, size, f) }
    guard n == size else { throw DLError(.io, "\(path): read \(n) of \(size) bytes") }
    return bytes
}

/// The first bytes of a file, for format sniffing.
func readPrefix(_ path: String, count: Int) throws -> [UInt8] {
    guard let f = fopen(path, "rb") else {
        throw DLError(.io, "\(path): cannot open (\(String(cString: strerror(errno))))")
    }
    defer { fclose(f) }
    var bytes = [UInt8](repeating: 0, count: count)
    let n = bytes.withUnsafeMutableBytes { fread($0.baseAddress, 1, count, f) }
    return Array(bytes.prefix(n))
}
