import CDLInferCPU

/// Winograd F(4x4, 3x3) and F(2x2, 3x3) (Lavin & Gray, 2016): a 3x3 stride-1 convolution computed
/// on (m + 2)^2 input tiles giving m x m outputs, as (m + 2)^2 GEMMs of [tiles, cin] x [cin, cout]:
/// F(4x4) does 36 multiplications per channel pair and output tile instead of 144, F(2x2) 16
/// instead of 36, but with 2.25x (not 4x) the weights, and 4x the rows per weight matrix. The
/// per-ISA kernels do the input and output transforms; this file has the weight transform and the
/// portable tier's transforms (same formulas).
enum Winograd {
    struct Variant: Equatable, Sendable {
        /// Output tile edge; the input tile edge is m + 2.
        let m: Int
        let bt: [[Float]], at: [[Float]]
        let g: [[Double]]
        var alpha: Int { m + 2 }
        /// The number of GEMMs (Winograd-domain products per tile).
        var products: Int { alpha * alpha }
    }

    static let f4x4 = Variant(m: 4,
                              bt: [[4, 0, -5, 0, 1, 0],
                                   [0, -4, -4, 1, 1, 0],
                                   [0, 4, -4, -1, 1, 0],
                                   [0, -2, -1, 2, 1, 0],
                                   [0, 2, -1, -2, 1, 0],
                                   [0, 4, 0, -5, 0, 1]],
                              at: [[1, 1, 1, 1, 1, 0],
                                   [0, 1, -1, 2, -2, 0],
                                   [0, 1, 1, 4, 4, 0],
                                   [0, 1, -1, 8, -8, 1]],
                              g: [[1.0 / 4, 0, 0],
                                  [-1.0 / 6, -1.0 / 6, -1.0 / 6],
                                  [-1.0 / 6, 1.0 / 6, -1.0 / 6],
                                  [1.0 / 24, 1.0 / 12, 1.0 / 6],
                                  [1.0 / 24, -1.0 / 12, 1.0 / 6],
                                  [0, 0, 1]])

    static let f2x2 = Variant(m: 2,
                              bt: [[1, 0, -1, 0],
                                   [0, 1, 1, 0],
                                   [0, -1, 1, 0],
                                   [0, 1, 0, -1]],
                              at: [[1, 1, 1, 0],
                                   [0, 1, -1, -1]],
                              g: [[1, 0, 0],
                                  [0.5, 0.5, 0.5],
                                  [0.5, -0.5, 0.5],
                                  [0, 0, 1]])

    /// G g G^T of a Keras kernel [3][3][cin][cout]: alpha^2 matrices [cin, cout], each packed for the
    /// GEMM. Computed in Double as (G g) then times G^T, without allocating per channel pair (ResNet50
    /// has 470k pairs in its Winograd convolutions).
    static func transformWeights(_ kernel: UnsafePointer<Float>, cin: Int, cout: Int, table: KernelTable,
                                 variant: Variant = f4x4) throws -> [PackedMatrix] {
        let pairs = try checkedMul(cin, cout), alpha = variant.alpha, products = variant.products
        var u = [Float](repeating: 0, count: try checkedMul(products, pairs))   // [e][ci][co]
        let gFlat = variant.g.flatMap { $0 }                                     // [alpha][3]
        u.withUnsafeMutableBufferPointer { up in
            gFlat.withUnsafeBufferPointer { gf in
                // One input channel at a time: G g for every output channel, then each of the
                // products as a contiguous row of cout floats (writing the matrices pair by pair
                // strided them alpha^2 ways, 4 KB-aliased, and made loading ResNet50 0.5 s slower).
                withUnsafeTemporaryAllocation(of: Double.self, capacity: alpha * 3 * cout) { gk in   // [cout][alpha][3]
                    for ci in 0..<cin {
                        for co in 0..<cout {
                            let tap = kernel + ci * cout + co   // tap (y, x) at tap[(y * 3 + x) * pairs]
                            for i in 0..<alpha {
                                for x in 0..<3 {
                                    var sum = 0.0
                                    for y in 0..<3 { sum += gf[i * 3 + y] * Double(tap[(y * 3 + x) * pairs]) }
                                    gk[(co * alpha + i) * 3 + x] = sum
                                }
                            }
                        }
                        for i in 0..<alpha {
                            for j in 0..<alpha {
                                let row = up.baseAddress! + (i * alpha + j) * pairs + ci * cout
                                for co in 0..<cout {
                                    let r = gk.baseAddress! + (co * alpha + i) * 3
                                    row[co] = Float(r[0] * gf[j * 3] + r[1] * gf[j * 3 + 1] + r[2] * gf[j * 3 + 2])
                                }
                            }
                        }
                    }
                }
            }
        }
        return try u.withUnsafeBufferPointer { up in
            try (0..<products).map { e in
                try PackedMatrix(up.baseAddress! + e * pairs, k: cin, n: cout, ldb: cout, panelWidth: table.packWidth(cout))
            }
        }
    }
}

/// The portable tier's input transforms (see the ISA kernels' `WinogradInput`, `Winograd2x2Input`).
func scalarWinogradInput(_ x: UnsafePointer<Float>, _ h: Int, _ w: Int, _ c: Int, _ padTop: Int, _ padLeft: Int,
                         _ tilesW: Int, _ tiles: Int, _ v: UnsafeMutablePointer<Float>, _ tileBegin: Int, _ tileEnd: Int) {
    scalarWinogradInput(Winograd.f4x4, x, h, w, c, padTop, padLeft, tilesW, tiles, v, tileBegin, tileEnd)
}

func scalarWinograd2x2Input(_ x: UnsafePointer<Float>, _ h: Int, _ w: Int, _ c: Int, _ padTop: Int, _ padLeft: Int,
                            _ tilesW: Int, _ tiles: Int, _ v: UnsafeMutablePointer<Float>, _ tileBegin: Int, _ tileEnd: Int) {
    scalarWinogradInput(Winograd.f2x2, x, h, w, c, padTop, padLeft, tilesW, tiles, v, tileBegin, tileEnd)
}

private func scalarWinogradInput(_ variant: Winograd.Variant, _ x: UnsafePointer<Float>, _ h: Int, _ w: Int, _ c: Int,
                                 _ padTop: Int, _ padLeft: Int, _ tilesW: Int, _ tiles: Int, _ v: UnsafeMutablePointer<Float>,
                                 _ tileBegin: Int, _ tileEnd: Int) {
    let bt = variant.bt, a = variant.alpha, m = variant.m
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * a * a) { scratch in
    let d = scratch.baseAddress!, t = d + a * a
    for tile in tileBegin..<tileEnd {
        let y0 = tile / tilesW * m - padTop, x0 = tile % tilesW * m - padLeft
        for ci in 0..<c {
            for i in 0..<a {
                for j in 0..<a {
                    let y = y0 + i, xx = x0 + j
                    d[i * a + j] = y < 0 || y >= h || xx < 0 || xx >= w ? 0 : x[(y * w + xx) * c + ci]
                }
            }
            for i in 0..<a { for j in 0..<a { t[i * a + j] = (0..<a).reduce(Float(0)) { $0 + bt[i][$1] * d[$1 * a + j] } } }
            for i in 0..<a {
                for j in 0..<a {
                    v[(i * a + j) * tiles * c + tile * c + ci] = (0..<a).reduce(Float(0)) { $0 + t[i * a + $1] * bt[j][$1] }
                }
            }
        }
    }
    }
}

/// The portable tier's output transforms and epilogue (see the ISA kernels' `WinogradOutput`,
/// `Winograd2x2Output`).
func scalarWinogradOutput(_ m: UnsafePointer<Float>, _ tiles: Int, _ n: Int, _ tilesW: Int, _ oh: Int, _ ow: Int,
                          _ y: UnsafeMutablePointer<Float>, _ epilogue: UnsafePointer<dl_epilogue>, _ tileBegin: Int, _ tileEnd: Int) {
    scalarWinogradOutput(Winograd.f4x4, m, tiles, n, tilesW, oh, ow, y, epilogue, tileBegin, tileEnd)
}

func scalarWinograd2x2Output(_ m: UnsafePointer<Float>, _ tiles: Int, _ n: Int, _ tilesW: Int, _ oh: Int, _ ow: Int,
                             _ y: UnsafeMutablePointer<Float>, _ epilogue: UnsafePointer<dl_epilogue>, _ tileBegin: Int, _ tileEnd: Int) {
    scalarWinogradOutput(Winograd.f2x2, m, tiles, n, tilesW, oh, ow, y, epilogue, tileBegin, tileEnd)
}

private func scalarWinogradOutput(_ variant: Winograd.Variant, _ m: UnsafePointer<Float>, _ tiles: Int, _ n: Int, _ tilesW: Int,
                                  _ oh: Int, _ ow: Int, _ y: UnsafeMutablePointer<Float>, _ epilogue: UnsafePointer<dl_epilogue>,
                                  _ tileBegin: Int, _ tileEnd: Int) {
    let at = variant.at, e = epilogue.pointee, a = variant.alpha, edge = variant.m
    withUnsafeTemporaryAllocation(of: Float.self, capacity: edge * a) { scratch in
    let s = scratch.baseAddress!
    for tile in tileBegin..<tileEnd {
        let oy0 = tile / tilesW * edge, ox0 = tile % tilesW * edge
        for co in 0..<n {
            for i in 0..<edge {
                for j in 0..<a { s[i * a + j] = (0..<a).reduce(Float(0)) { $0 + at[i][$1] * m[($1 * a + j) * tiles * n + tile * n + co] } }
            }
            for i in 0..<edge {
                for j in 0..<edge {
                    let oy = oy0 + i, ox = ox0 + j
                    if oy >= oh || ox >= ow { continue }
                    let value = (0..<a).reduce(Float(0)) { $0 + s[i * a + $1] * at[j][$1] }
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
