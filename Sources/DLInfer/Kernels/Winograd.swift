import CDLInferCPU

/// Winograd F(4x4, 3x3) (Lavin & Gray, 2016): a 3x3 stride-1 convolution computed on 6x6 input
/// tiles giving 4x4 outputs with 36 multiplications per channel pair instead of 144, as 36 GEMMs
/// of [tiles, cin] x [cin, cout]. The per-ISA kernels do the input and output transforms; this file
/// has the weight transform and the portable tier's transforms (same formulas).
enum Winograd {
    /// Output tile edge and input tile edge.
    static let m = 4, alpha = 6

    static let bt: [[Float]] = [[4, 0, -5, 0, 1, 0],
                                [0, -4, -4, 1, 1, 0],
                                [0, 4, -4, -1, 1, 0],
                                [0, -2, -1, 2, 1, 0],
                                [0, 2, -1, -2, 1, 0],
                                [0, 4, 0, -5, 0, 1]]
    static let at: [[Float]] = [[1, 1, 1, 1, 1, 0],
                                [0, 1, -1, 2, -2, 0],
                                [0, 1, 1, 4, 4, 0],
                                [0, 1, -1, 8, -8, 1]]
    static let g: [[Double]] = [[1.0 / 4, 0, 0],
                                [-1.0 / 6, -1.0 / 6, -1.0 / 6],
                                [-1.0 / 6, 1.0 / 6, -1.0 / 6],
                                [1.0 / 24, 1.0 / 12, 1.0 / 6],
                                [1.0 / 24, -1.0 / 12, 1.0 / 6],
                                [0, 0, 1]]

    /// G g G^T of a Keras kernel [3][3][cin][cout]: 36 matrices [cin, cout], each packed for the GEMM.
    /// Computed in Double as (G g) then times G^T, without allocating per channel pair (ResNet50
    /// has 470k pairs in its Winograd convolutions).
    static func transformWeights(_ kernel: UnsafePointer<Float>, cin: Int, cout: Int, table: KernelTable) throws -> [PackedMatrix] {
        let pairs = try checkedMul(cin, cout)
        var u = [Float](repeating: 0, count: try checkedMul(36, pairs))   // [e][ci][co]
        let gFlat = g.flatMap { $0 }                                      // [6][3]
        u.withUnsafeMutableBufferPointer { up in
            gFlat.withUnsafeBufferPointer { gf in
                // One input channel at a time: G g for every output channel, then each of the 36
                // outputs as a contiguous row of cout floats (writing the 36 matrices pair by pair
                // strided them 36 ways, 4 KB-aliased, and made loading ResNet50 0.5 s slower).
                withUnsafeTemporaryAllocation(of: Double.self, capacity: 18 * cout) { gk in   // [cout][6][3]
                    for ci in 0..<cin {
                        for co in 0..<cout {
                            let tap = kernel + ci * cout + co   // tap (y, x) at tap[(y * 3 + x) * pairs]
                            for i in 0..<6 {
                                for x in 0..<3 {
                                    var sum = 0.0
                                    for y in 0..<3 { sum += gf[i * 3 + y] * Double(tap[(y * 3 + x) * pairs]) }
                                    gk[co * 18 + i * 3 + x] = sum
                                }
                            }
                        }
                        for i in 0..<6 {
                            for j in 0..<6 {
                                let row = up.baseAddress! + (i * 6 + j) * pairs + ci * cout
                                for co in 0..<cout {
                                    let r = gk.baseAddress! + co * 18 + i * 3
                                    row[co] = Float(r[0] * gf[j * 3] + r[1] * gf[j * 3 + 1] + r[2] * gf[j * 3 + 2])
                                }
                            }
                        }
                    }
                }
            }
        }
        return try u.withUnsafeBufferPointer { up in
            try (0..<36).map { e in
                try PackedMatrix(up.baseAddress! + e * pairs, k: cin, n: cout, ldb: cout, panelWidth: table.packWidth(cout))
            }
        }
    }
}

/// The portable tier's input transform (see the ISA kernels' `WinogradInput`).
func scalarWinogradInput(_ x: UnsafePointer<Float>, _ h: Int, _ w: Int, _ c: Int, _ padTop: Int, _ padLeft: Int,
                         _ tilesW: Int, _ tiles: Int, _ v: UnsafeMutablePointer<Float>, _ tileBegin: Int, _ tileEnd: Int) {
    let bt = Winograd.bt
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 72) { scratch in
    let d = scratch.baseAddress!, t = d + 36
    for tile in tileBegin..<tileEnd {
        let y0 = tile / tilesW * 4 - padTop, x0 = tile % tilesW * 4 - padLeft
        for ci in 0..<c {
            for i in 0..<6 {
                for j in 0..<6 {
                    let y = y0 + i, xx = x0 + j
                    d[i * 6 + j] = y < 0 || y >= h || xx < 0 || xx >= w ? 0 : x[(y * w + xx) * c + ci]
                }
            }
            for i in 0..<6 { for j in 0..<6 { t[i * 6 + j] = (0..<6).reduce(Float(0)) { $0 + bt[i][$1] * d[$1 * 6 + j] } } }
            for i in 0..<6 {
                for j in 0..<6 {
                    v[(i * 6 + j) * tiles * c + tile * c + ci] = (0..<6).reduce(Float(0)) { $0 + t[i * 6 + $1] * bt[j][$1] }
                }
            }
        }
    }
    }
}

/// The portable tier's output transform and epilogue (see the ISA kernels' `WinogradOutput`).
func scalarWinogradOutput(_ m: UnsafePointer<Float>, _ tiles: Int, _ n: Int, _ tilesW: Int, _ oh: Int, _ ow: Int,
                          _ y: UnsafeMutablePointer<Float>, _ epilogue: UnsafePointer<dl_epilogue>, _ tileBegin: Int, _ tileEnd: Int) {
    let at = Winograd.at, e = epilogue.pointee
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 24) { scratch in
    let s = scratch.baseAddress!
    for tile in tileBegin..<tileEnd {
        let oy0 = tile / tilesW * 4, ox0 = tile % tilesW * 4
        for co in 0..<n {
            for i in 0..<4 {
                for j in 0..<6 { s[i * 6 + j] = (0..<6).reduce(Float(0)) { $0 + at[i][$1] * m[($1 * 6 + j) * tiles * n + tile * n + co] } }
            }
            for i in 0..<4 {
                for j in 0..<4 {
                    let oy = oy0 + i, ox = ox0 + j
                    if oy >= oh || ox >= ow { continue }
                    let value = (0..<6).reduce(Float(0)) { $0 + s[i * 6 + $1] * at[j][$1] }
                    let pixel = oy * ow + ox
                    y[pixel * n + co] = e.finish(value, row: pixel, col: co)
                }
            }
        }
    }
    }
}

func scalarAllFinite(_ p: UnsafePointer<Float>, _ count: Int) -> Bool {
    (0..<count).allSatisfy { p[$0].isFinite }
}
