import Foundation

/// Minimal .npy reader for the fixtures: little-endian float32 or int32, C order.
struct NpyArray {
    enum Values { case float32([Float]), int32([Int32]) }
    let shape: [Int]
    let values: Values

    var floats: [Float] {
        switch values {
        case .float32(let f): return f
        case .int32(let i): return i.map { Float($0) }
        }
    }

    init(path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let bytes = [UInt8](data)
        guard bytes.count > 10, bytes[0] == 0x93, Array(bytes[1...5]) == Array("NUMPY".utf8) else {
            throw NpyError("\(path): not a .npy file")
        }
        let major = bytes[6]
        let headerLen = major == 1 ? Int(bytes[8]) | Int(bytes[9]) << 8
                                   : Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
        let start = major == 1 ? 10 : 12
        let header = String(decoding: bytes[start..<(start + headerLen)], as: UTF8.self)
        guard !header.contains("'fortran_order': True") else { throw NpyError("\(path): Fortran order") }
        guard let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")") else {
            throw NpyError("\(path): no shape")
        }
        shape = header[open.upperBound..<close].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        let count = shape.reduce(1, *)
        let body = Array(bytes[(start + headerLen)...])
        if header.contains("'<f4'") {
            guard body.count >= count * 4 else { throw NpyError("\(path): truncated") }
            values = .float32(body.withUnsafeBytes { Array($0.bindMemory(to: Float.self).prefix(count)) })
        } else if header.contains("'<i4'") {
            guard body.count >= count * 4 else { throw NpyError("\(path): truncated") }
            values = .int32(body.withUnsafeBytes { Array($0.bindMemory(to: Int32.self).prefix(count)) })
        } else {
            throw NpyError("\(path): unsupported dtype in \(header)")
        }
    }
}

struct NpyError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
