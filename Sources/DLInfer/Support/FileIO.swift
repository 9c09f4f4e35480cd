import Glibc

/// Largest file the engine reads whole into memory (a .keras archive, JSON, or JPEG).
let maxReadBytes = 4 << 30

/// A regular file opened for reading. FIFOs, devices, sockets and directories are refused before
/// they are opened for real: opening a FIFO blocks until a writer appears, and a device can
/// stream forever.
final class ReadOnlyFile {
    let path: String
    let fd: Int32
    let size: Int

    init(_ path: String) throws {
        self.path = path
        var st = stat()
        guard stat(path, &st) == 0 else { throw Self.cannotOpen(path) }
        try Self.requireRegular(st, path)
        // O_NONBLOCK: should the path have been swapped for a FIFO since stat, open still returns.
        fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw Self.cannotOpen(path) }
        guard fstat(fd, &st) == 0 else {
            close(fd)
            throw DLError(.io, "\(path): cannot stat")
        }
        do { try Self.requireRegular(st, path) } catch { close(fd); throw error }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)
        size = Int(st.st_size)
    }

    deinit { close(fd) }

    private static func cannotOpen(_ path: String) -> DLError {
        DLError(.io, "\(path): cannot open (\(String(cString: strerror(errno))))")
    }

    private static func requireRegular(_ st: stat, _ path: String) throws {
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw DLError(.io, "\(path): not a regular file") }
    }

    /// `count` bytes at `offset`, or nil when they are not all in the file.
    func read(at offset: Int, count: Int) -> [UInt8]? {
        guard offset >= 0, count >= 0, offset <= size, count <= size - offset else { return nil }
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset + done)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return nil }
            done += n
        }
        return bytes
    }

    /// A name for this very file (not whatever `path` names by now), for libraries that open by name.
    var stablePath: String {
        let proc = "/proc/self/fd/\(fd)"
        return access(proc, R_OK) == 0 ? proc : path
    }
}

/// Reads a whole file; errors name the path.
func readWholeFile(_ path: String) throws -> [UInt8] {
    let file = try ReadOnlyFile(path)
    guard file.size <= maxReadBytes else { throw DLError(.io, "\(path): file too large (\(file.size) bytes)") }
    guard let bytes = file.read(at: 0, count: file.size) else { throw DLError(.io, "\(path): cannot read \(file.size) bytes") }
    return bytes
}

/// The first bytes of a file, for format sniffing.
func readPrefix(_ path: String, count: Int) throws -> [UInt8] {
    let file = try ReadOnlyFile(path)
    return file.read(at: 0, count: min(count, file.size)) ?? []
}
