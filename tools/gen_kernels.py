#!/usr/bin/env python3
"""Generates the per-ISA f32 GEMM micro-kernels and depthwise kernels from one template each.

    python3 tools/gen_kernels.py            # writes Sources/DLInferKernels{AVX512,AVX2}/*.swift
    python3 tools/gen_kernels.py --check    # exits 1 if the committed files differ

Swift cannot share one source file between two modules compiled with different -march flags,
and a kernel's register tile differs per ISA (6 rows x 64 columns in zmm, 6 x 16 in ymm), so
both files come from here. The kernels read A in place, B from panels packed at model load
([panel][k][NR], zero-padded), and apply the epilogue (bias, residual, relu/clamp/leaky) in
registers before the store. They use only pointers and SIMD types: no Array, no generics
(see ../shared/KERNELS.md, pitfall 5).
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIERS = [
    # name, module folder, lanes, vectors per row, KC, longest K run rows-first, most channels
    # of whole taps a conv K block takes
    ("AVX512", "DLInferKernelsAVX512", 16, 4, 128, 384, 192),
    ("AVX2", "DLInferKernelsAVX2", 8, 2, 256, 256, 256),
]
MR = 6
# Heights of the kernels for a short last tile (see tile_dispatch).
SHORT_TILES = (1, 2, 3, 4)


def kernel(name, lanes, nv, mr, panel, indirect=False, splits=1):
    """A tile of mr rows x nv vectors; it reads the first nv vectors of each k row of a panel
    `panel` columns wide (narrower tiles serve the last panel of an n that is not a multiple).
    `indirect`: a convolution without im2col, over taps [t0, t1) and channels [c0, c0 + kc):
    row r reads ptrs[r * taps + tap][c0 + k] (the input pixel under that tap, or a zero row).
    `splits` > 1 (one row, not indirect): a GEMV kernel summing k into that many accumulator sets
    (k mod splits), added pairwise at the end."""
    nr = lanes * nv
    acc = [["c%d%d" % (r, j) for j in range(nv)] for r in range(mr)]
    out = []
    w = out.append
    if indirect:
        w("/// C[%d x cols] = sum over taps of the tap's input rows * B panel, then the epilogue." % mr)
        w("@inline(__always)")
        w("private func convKernel%dx%d(_ ptrs: UnsafePointer<UnsafePointer<Float>>, _ taps: Int, _ t0: Int, _ t1: Int, _ c0: Int, _ kc: Int," % (mr, nr))
        w("                            _ rows: Int, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int,")
        w("                            _ accumulate: Bool, _ epi: UnsafePointer<dl_epilogue>?, _ col0: Int, _ row0: Int, _ ldb: Int,")
        w("                            _ pf: UnsafeRawPointer, _ pfLines: Int) {")
        for r in range(mr):
            w("    let p%d = ptrs + %s * taps" % (r, "0" if r == 0 else "min(%d, rows - 1)" % r))
    else:
        w("/// C[%d x cols] (+)= A[rows x kc] * B panel, then the epilogue when `epi` is given." % mr)
        w("@inline(__always)")
        w("private func %s%dx%d(_ a: UnsafePointer<Float>, _ lda: Int, _ rows: Int, _ b: UnsafePointer<Float>, _ kc: Int," % ("gemvKernel" if splits > 1 else "kernel", mr, nr))
        w("                        _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ accumulate: Bool,")
        w("                        _ epi: UnsafePointer<dl_epilogue>?, _ col0: Int, _ row0: Int, _ ldb: Int,")
        w("                        _ pf: UnsafeRawPointer, _ pfLines: Int) {")
        for r in range(mr):
            w("    let a%d = a + %s * lda" % (r, "0" if r == 0 else "min(%d, rows - 1)" % r))
    for r in range(mr):
        w("    var " + ", ".join("%s = V()" % x for x in acc[r]))
    w("    var bp = b")
    def step(ind):
        """One k step of the tile: the panel row's vectors, each row's broadcast, the FMAs."""
        for j in range(nv):
            w(ind + "let b%d = load(bp + %d)" % (j, j * lanes))
        for r in range(mr):
            w(ind + "let s%d = V(repeating: a%d[k])" % (r, r))
            for j in range(nv):
                w(ind + "%s = %s.addingProduct(s%d, b%d)" % (acc[r][j], acc[r][j], r, j))

    if splits > 1:
        # A GEMV kernel: k in `splits` accumulator sets, no software prefetch (its driver streams B
        # and gives it no lines to fetch).
        sets = [[["u%d%d%d" % (u, r, j) for j in range(nv)] for r in range(mr)] for u in range(splits)]
        sets[0] = acc
        for u in range(1, splits):
            for r in range(mr):
                w("    var " + ", ".join("%s = V()" % x for x in sets[u][r]))
        w("    var k = 0")
        w("    while k + %d <= kc {" % splits)
        for u in range(splits):
            for j in range(nv):
                w("        let b%d%d = load(bp + %s%d)" % (u, j, "" if u == 0 else "%d * ldb + " % u, j * lanes))
            for r in range(mr):
                w("        let s%d%d = V(repeating: a%d[k + %d])" % (u, r, r, u))
                for j in range(nv):
                    w("        %s = %s.addingProduct(s%d%d, b%d%d)" % (sets[u][r][j], sets[u][r][j], u, r, u, j))
        w("        bp += %d * ldb" % splits)
        w("        k += %d" % splits)
        w("    }")
        w("    while k < kc {")
        step("        ")
        w("        bp += ldb")
        w("        k += 1")
        w("    }")
        # Halving: u0 += u(s/2), ..., then again over the first half.
        width = splits
        while width > 1:
            half = width // 2
            for u in range(half):
                for r in range(mr):
                    for j in range(nv):
                        w("    %s += %s" % (sets[u][r][j], sets[u + half][r][j]))
            width = half
    else:
        # Lines of the next weight block spread over the k loop (see NextBlockPrefetch), any rest
        # after it.
        w("    var pfp = pf, pfLeft = pfLines")
        w("    let pfMask = prefetchMask(steps: %s, lines: pfLines)" % ("kc * (t1 - t0)" if indirect else "kc"))
        ind = "    "
        if indirect:
            w("    for t in t0..<t1 {")
            for r in range(mr):
                w("        let a%d = p%d[t] + c0" % (r, r))
            w("        for k in 0..<kc {")
            ind = "        "
        else:
            w("    for k in 0..<kc {")
        w(ind + "    if pfLeft > 0 && k & pfMask == 0 { dl_prefetch_l2(pfp); pfp += 64; pfLeft -= 1 }")
        step(ind + "    ")
        w(ind + "    bp += ldb")
        w(ind + "}")
        if indirect:
            w("    }")
        w("    while pfLeft > 0 { dl_prefetch_l2(pfp); pfp += 64; pfLeft -= 1 }")
    w("    let full = cols == %d" % nr)
    # The epilogue is written out in place (a helper taking the accumulators inout was not
    # inlined and spilled them): its settings are read once per tile, the bias once per tile.
    w("    let ep = epi?.pointee")
    w("    let act = ep?.activation ?? Int32(DL_ACT_NONE)")
    w("    let lo = V(repeating: ep?.lo ?? 0), hi = V(repeating: ep?.hi ?? 0)")
    w("    let residual = ep?.residual, ldr = ep?.ld_residual ?? 0")
    w("    var " + ", ".join("bias%d = V()" % j for j in range(nv)))
    w("    if let bias = ep?.bias {")
    for j in range(nv):
        w("        bias%d = load(bias + col0 + %d)" % (j, j * lanes))
    w("    }")
    # One branch per setting for the whole tile, not per row; the row guards only where a short
    # tile (rows < mr) must not touch memory past its rows.
    def guarded(indent, body):
        for r in range(mr):
            lines = body(r)
            if r == 0:
                for l in lines: w(indent + l)
            else:
                w(indent + "if %d < rows {" % r)
                for l in lines: w(indent + "    " + l)
                w(indent + "}")
    def add_rows(indent, base, ld):
        """acc += the tile's rows of the matrix at `base` (leading dimension `ld`)."""
        w(indent + "if whole {")
        for r in range(mr):
            for j in range(nv):
                w(indent + "    %s += load(%s + %d * %s + %d)" % (acc[r][j], base, r, ld, j * lanes))
        w(indent + "} else {")
        guarded(indent + "    ", lambda r: ["%s += full ? load(%s + %d * %s + %d) : partial(%s + %d * %s + %d, cols - %d)"
                                              % (acc[r][j], base, r, ld, j * lanes, base, r, ld, j * lanes, j * lanes) for j in range(nv)])
        w(indent + "}")
    w("    let whole = full && rows == %d" % mr)
    w("    if accumulate {")
    add_rows("        ", "c", "ldc")
    w("    }")
    w("    if ep != nil {")
    for r in range(mr):
        for j in range(nv):
            w("        %s += bias%d" % (acc[r][j], j))
    w("        if let residual {")
    w("            let rr = residual + row0 * ldr + col0")
    add_rows("            ", "rr", "ldr")
    w("        }")
    w("        switch act {")
    w("        case Int32(DL_ACT_RELU):")
    for r in range(mr):
        for j in range(nv):
            w("            %s.replace(with: 0, where: %s .< 0)" % (acc[r][j], acc[r][j]))
    w("        case Int32(DL_ACT_CLAMP):")
    for r in range(mr):
        for j in range(nv):
            w("            %s = clamped(%s, lo, hi)" % (acc[r][j], acc[r][j]))
    w("        case Int32(DL_ACT_LEAKY):")
    for r in range(mr):
        for j in range(nv):
            w("            %s.replace(with: %s * lo, where: %s .< 0)" % ((acc[r][j],) * 3))
    w("        default: break")
    w("        }")
    w("    }")
    w("    if whole {")
    for r in range(mr):
        for j in range(nv):
            w("        store(%s, c + %d * ldc + %d)" % (acc[r][j], r, j * lanes))
    w("    } else {")
    guarded("        ", lambda r: ["if full { store(%s, c + %d * ldc + %d) } else { storePartial(%s, c + %d * ldc + %d, cols - %d) }"
                                      % (acc[r][j], r, j * lanes, acc[r][j], r, j * lanes, j * lanes) for j in range(nv)])
    w("    }")
    w("}")
    return "\n".join(out)


def gemv_splits(nv):
    """Accumulator sets of a one-row kernel nv vectors wide: eight accumulators in all (two FMA
    ports x four cycles of latency), at least two sets."""
    return max(2, 8 // nv)


def tile_dispatch(lanes, nv, kernel, args):
    """The switch of a tile on its width in vectors, then on its height: a short last tile (M not
    a multiple of 6) takes a kernel of its own height, not the 6-row one computing copies of its
    last row (M = 9, Winograd's 36 GEMMs on a 12x12 output, computed 12 rows). `args` has a %s
    where the row count goes."""
    out = []
    for j in range(1, nv + 1):
        out.append("        %s:" % ("default" if j == nv else "case %d" % j))
        out.append("            switch rows {")
        for mr in SHORT_TILES:
            out.append("            case %d: %s%dx%d(%s)" % (mr, kernel, mr, j * lanes, args % mr))
        out.append("            default: %s%dx%d(%s)" % (kernel, MR, j * lanes, args % "rows"))
        out.append("            }")
    return out


def module(name, lanes, nv, kc, rows_first_k, tap_kc):
    one_panel_floats = 9216 if lanes == 16 else 6144  # 36 KB / 24 KB of B: well inside L1
    nr = lanes * nv
    parts = [kernel(name, lanes, j, mr, nr) for j in range(1, nv + 1) for mr in (MR,) + SHORT_TILES]
    parts += [kernel(name, lanes, j, mr, nr, indirect=True) for j in range(1, nv + 1) for mr in (MR,) + SHORT_TILES]
    parts += [kernel(name, lanes, j, 1, nr, splits=gemv_splits(j)) for j in range(1, nv + 1)]
    gemv_dispatch = ["        %s: gemvKernel1x%d(a, lda, rows, b, kc, c, ldc, cols, accumulate, epi, col0, row0, ldb, pf, pfLines)"
                     % ("default" if j == nv else "case %d" % j, j * lanes) for j in range(1, nv + 1)]
    conv_dispatch = tile_dispatch(lanes, nv, "convKernel", "ptrs, taps, t0, t1, c0, kc, %s, b, c, ldc, cols, accumulate, epi, col0, row0, ldb, pf, pfLines")
    dispatch = tile_dispatch(lanes, nv, "kernel", "a, lda, %s, b, kc, c, ldc, cols, accumulate, epi, col0, row0, ldb, pf, pfLines")
    src = """// Generated by tools/gen_kernels.py; edit the generator, not this file.
import CDLInferCPU

/// Columns per packed B panel of this tier.
public let {low}PanelWidth = {nr}

/// The panel width of a packed B with n columns: narrower than the tier's when n is, rounded up
/// to whole vectors (a 10-column dense layer reads 16 floats per k, not {nr}).
public func {low}PanelWidth(forColumns n: Int) -> Int {{ n >= {nr} ? {nr} : max(1, (n + {lanes1}) / {lanes}) * {lanes} }}

{parts}

/// One tile: up to {mr} rows, as many vectors as the panel's `cols` columns need (the last panel of
/// an n that is not a multiple of {nr} takes a narrower kernel instead of computing zeros). `gemv`
/// (a GEMM of one row, every tile of it one row at any thread count): k is summed in several
/// accumulators, not one dependent chain per vector (a small CNN's 1600 -> 10 dense layer waited
/// on 1600 FMA latencies in a row).
/// The whole-tile case calls its kernel straight from the driver's loop: through the dispatch
/// (a switch the compiler kept out of line) each tile paid a second call, whose argument stores
/// waited behind the tile's own stores of C (a 600 x 64 GEMM in L2 at K = 16: 136 -> 151 GFLOP/s,
/// K = 64: 166 -> 171).
@inline(__always)
private func tile(_ a: UnsafePointer<Float>, _ lda: Int, _ rows: Int, _ b: UnsafePointer<Float>, _ kc: Int,
                  _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ accumulate: Bool,
                  _ epi: UnsafePointer<dl_epilogue>?, _ col0: Int, _ row0: Int, _ ldb: Int,
                  _ pf: UnsafeRawPointer, _ pfLines: Int, _ gemv: Bool) {{
    if !gemv && rows == {mr} && cols == {nr} {{
        kernel{mr}x{nr}(a, lda, rows, b, kc, c, ldc, cols, accumulate, epi, col0, row0, ldb, pf, pfLines)
    }} else {{
        anyTile(a, lda, rows, b, kc, c, ldc, cols, accumulate, epi, col0, row0, ldb, pf, pfLines, gemv)
    }}
}}

@inline(never)
private func anyTile(_ a: UnsafePointer<Float>, _ lda: Int, _ rows: Int, _ b: UnsafePointer<Float>, _ kc: Int,
                     _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int, _ accumulate: Bool,
                     _ epi: UnsafePointer<dl_epilogue>?, _ col0: Int, _ row0: Int, _ ldb: Int,
                     _ pf: UnsafeRawPointer, _ pfLines: Int, _ gemv: Bool) {{
    if gemv {{
        switch (cols + {lanes1}) / {lanes} {{
{gemvDispatch}
        }}
        return
    }}
    switch (cols + {lanes1}) / {lanes} {{
{dispatch}
    }}
}}

/// C[rowBegin..<rowEnd, columns of panels panelBegin..<panelEnd] = A[.., 0..<k] * packed B +
/// epilogue. `bias` and `residual` in the epilogue are indexed by absolute column and row. The
/// last panel's padded columns are never stored; bias must hold n floats padded to {nr}. B is
/// packed in panels of {low}PanelWidth(forColumns: n).
public func {low}Sgemm(_ m: Int, _ n: Int, _ k: Int, _ a: UnsafePointer<Float>, _ lda: Int,
                        _ packedB: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, _ ldc: Int,
                        _ epilogue: UnsafePointer<dl_epilogue>, _ rowBegin: Int, _ rowEnd: Int,
                        _ panelBegin: Int, _ panelEnd: Int) {{
    let pw = {low}PanelWidth(forColumns: n)
    let bEnd = packedB + panelEnd * k * pw
    let gemv = m == 1
    if k <= {rowsFirstK} && panelEnd - panelBegin > 1 && (panelEnd - panelBegin) * k * pw <= {rowsFirstFloats} {{
        // A short K and a B that stays in L2: each row tile runs across all panels, so C and the
        // residual are written and read row by row, not in column strips a panel at a time
        // (ResNet's 64 -> 256 1x1 convolutions).
        // While a row tile runs, its panel tiles fetch the next row tile's residual rows (half of
        // them) and output rows (the rest) into L2, each a slice: whole rows are contiguous, and
        // the epilogue's loads and stores then do not wait on memory (ResNet50's 56x56 64 -> 256
        // convolutions, which stream 3.2 MB of residual and output each: 1.10 -> 1.04 ms with a
        // residual, 0.74 -> 0.71 ms without, interleaved).
        // Nothing of C or the residual is fetched when they are in cache already (DL_EPI_IN_CACHE: a
        // depthwise chain's expand into its band scratch; MobileNetV2's block_1 chain 0.628 -> 0.611
        // ms, latency minimums of 8 interleaved rounds).
        let residual = epilogue.pointee.residual, ldr = epilogue.pointee.ld_residual
        let panels = panelEnd - panelBegin
        let wholeRows = panelBegin == 0 && panelEnd * pw >= n
        let fetchRows = wholeRows && epilogue.pointee.flags & Int32(DL_EPI_IN_CACHE) == 0
        // Over its own residual (Op.outputStorage) the output's rows are the residual's: fetched once.
        let overResidual = residual.map {{ UnsafeRawPointer($0) == UnsafeRawPointer(c) }} ?? false
        let residualParts = residual != nil && fetchRows && ldr == n ? (overResidual ? panels : (panels + 1) / 2) : 0
        let outputParts = fetchRows && ldc == n ? panels - residualParts : 0
        var i = rowBegin
        while i < rowEnd {{
            let rows = tileRows(rowEnd - i)
            let nextBytes = min(rowEnd - i - rows, {mr}) * n * 4
            for p in panelBegin..<panelEnd {{
                let col0 = p * pw, part = p - panelBegin
                let (pf, pfLines) = part < residualParts
                    ? prefetchSlice(residual.map {{ UnsafeRawPointer($0 + (i + rows) * ldr) }}, nextBytes, part, residualParts,
                                    none: UnsafeRawPointer(packedB))
                    : prefetchSlice(UnsafeRawPointer(c + (i + rows) * ldc), outputParts > 0 ? nextBytes : 0, part - residualParts,
                                    outputParts, none: UnsafeRawPointer(packedB))
                tile(a + i * lda, lda, rows, packedB + p * k * pw, k, c + i * ldc + col0, ldc, min(pw, n - col0), false, epilogue,
                     col0, i, pw, pf, pfLines, gemv)
            }}
            i += rows
        }}
        return
    }}
    // A GEMM of one panel (N <= {nr}) whose whole B fits in L1 runs K in one block: a second
    // block would store and reload every tile of C (MobileNetV2's 144 -> 24/32 projections on
    // 56x56: 0.235 -> 0.21 and 0.225 -> 0.205 ms). With a larger B but a short K and whole rows
    // of A (`streamA`) it runs in one block too, B from L2, each tile fetching the next tile's
    // rows of A into L2 over its k loop: ResNet50's 56x56 256 -> 64 1x1s read 3.2 MB of A from
    // memory, which two blocks read in two strided passes (0.74-0.80 -> 0.62 ms; one block
    // without the fetch: 0.70 -> 0.72 ms). Where B fits L1 the tiles fetch A's next rows too
    // (ResNet50's 56x56 64 -> 64 after the max pooling 0.19 -> 0.17 ms, per-op minimums of 8
    // interleaved rounds), except in a depthwise chain (DL_EPI_IN_CACHE), where A is the band in
    // L2 already and the fetch cost more than it gained (MobileNetV2 op sum 4.73 -> 4.76 ms).
    // A GEMM of one row (a GEMV) reads B once: K blocks would only store and reload C, and the
    // hardware prefetcher streams B better than fetches of the next block (a 1600 -> 10 dense
    // layer 1.9 -> 1.4 us, MobileNetV2's 1280 -> 1000 0.188 -> 0.176 ms, dlbench medians).
    let streamA = n <= pw && k <= {rowsFirstK} && lda == k && k * pw > {onePanelFloats}
    let kStep = gemv || (n <= pw && (k * pw <= {onePanelFloats} || streamA)) ? k : evenSteps(k, {kc})
    let fetchA = !gemv && n <= pw && k <= {rowsFirstK} && lda == k && epilogue.pointee.flags & Int32(DL_EPI_IN_CACHE) == 0
    // In blocks of K a residual is added by the first block, the bias and activation by the last:
    // C may be the residual's own buffer (a 1x1 conv writing over its residual, see
    // Op.outputStorage), which the first block's store would overwrite before the last read it.
    let residualFirst = kStep < k && epilogue.pointee.residual != nil
    var firstPart = epilogue.pointee, lastPart = epilogue.pointee
    firstPart.bias = nil
    firstPart.activation = Int32(DL_ACT_NONE)
    lastPart.residual = nil
    withUnsafePointer(to: &firstPart) {{ firstEpilogue in
    withUnsafePointer(to: &lastPart) {{ lastEpilogue in
    // Rows in blocks whose A stays in L2 while every panel passes over them (see rowBlock).
    let rowStep = rowBlock(rows: rowEnd - rowBegin, k: k, panels: panelEnd - panelBegin)
    var blockBegin = rowBegin
    repeat {{
        let blockEnd = min(rowEnd, blockBegin + rowStep)
        for p in panelBegin..<panelEnd {{
            let col0 = p * pw, cols = min(pw, n - col0)
            let bp = packedB + p * k * pw
            var k0 = 0
            repeat {{
                let kc = min(kStep, k - k0)
                let last = k0 + kc >= k
                let epi: UnsafePointer<dl_epilogue>? = !residualFirst ? (last ? epilogue : nil)
                    : k0 == 0 ? firstEpilogue : last ? lastEpilogue : nil
                var prefetch = NextBlockPrefetch(after: bp + k0 * pw, floats: kc * pw, end: bEnd, tiles: (blockEnd - blockBegin + {mr1}) / {mr})
                var i = blockBegin
                while i < blockEnd {{
                    var (pf, pfLines) = gemv ? (UnsafeRawPointer(packedB), 0) : prefetch.next()
                    let rows = tileRows(blockEnd - i)
                    if fetchA {{
                        (pf, pfLines) = (UnsafeRawPointer(a + (i + rows) * lda), (min(blockEnd - i - rows, {mr}) * k * 4 + 63) / 64)
                    }}
                    tile(a + i * lda + k0, lda, rows, bp + k0 * pw, kc, c + i * ldc + col0, ldc, cols, k0 > 0, epi, col0, i, pw,
                         pf, pfLines, gemv)
                    i += rows
                }}
                k0 += kc
            }} while k0 < k
        }}
        blockBegin = blockEnd
    }} while blockBegin < rowEnd
    }}
    }}
}}

/// Part `part` of `parts` of the `bytes` at `base`, as a first line and a line count (`none` and
/// no lines when there is nothing to fetch).
@inline(__always)
private func prefetchSlice(_ base: UnsafeRawPointer?, _ bytes: Int, _ part: Int, _ parts: Int,
                           none: UnsafeRawPointer) -> (UnsafeRawPointer, Int) {{
    guard let base, bytes > 0, parts > 0 else {{ return (none, 0) }}
    let slice = (bytes / parts + 63) & ~63
    let from = min(bytes, part * slice), to = min(bytes, from + slice)
    return (base + from, (to - from + 63) / 64)
}}

/// The k steps between two prefetched lines, less one, a power of two (a mask for k): `lines`
/// spread over `steps`. Each software prefetch holds a line fill buffer until memory answers;
/// issued a line per k step they took the buffers the tile's own loads of B from L2 need
/// (ResNet50's conv5 3x3 ops 5.04 -> 4.85 ms, conv5 1x1 ops 3.84 -> 3.62 ms at one line per
/// two steps, interleaved per-op minimums). The step is 2^(floor(log2 steps) - ceil(log2 lines)),
/// at most steps / lines, found without a division, which every tile's prologue would otherwise
/// pay (a 64-bit divide: kbench's K = 16 GEMM 132 -> 135 GFLOP/s without it, within its noise).
@inline(__always)
private func prefetchMask(steps: Int, lines: Int) -> Int {{
    guard lines > 0, steps > lines else {{ return 0 }}
    let shift = (Int.bitWidth - 1 - steps.leadingZeroBitCount) - (Int.bitWidth - (lines - 1).leadingZeroBitCount)
    return shift <= 0 ? 0 : (1 << shift) - 1
}}

/// The rows of the next tile when `left` remain: {mr}, except that {mr} + 1 and {mr} + 2 go as two
/// tiles of about half (a 1- or 2-row tile has too few accumulators to hide the FMA latency:
/// ResNet50's 7x7 layers have 49 = 8 x 6 + 1 rows).
@inline(__always)
private func tileRows(_ left: Int) -> Int {{
    left == {mr} + 1 || left == {mr} + 2 ? (left + 1) / 2 : min({mr}, left)
}}

/// Rows per block of a GEMM over several panels: all of them while A's rows fit in L2 (2 x
/// {rowsBlockFloats} floats); beyond, each panel would read A from L3 again, so rows go in blocks
/// of whole tiles whose rows fill about half of L2, each block over all panels (B is then read
/// once per block, as one stream the kernels fetch ahead). Batch-8 shapes of ResNet50's 1x1s,
/// best of 40 calls in five interleaved rounds on a noisy host (kbench): 392 x 2048 x 512 at
/// 52-76% -> 66-82% of peak (ahead in 4 rounds), 1568 x 1024 x 256 at 52-71% -> 55-80% (4).
@inline(__always)
private func rowBlock(rows: Int, k: Int, panels: Int) -> Int {{
    guard panels > 1 && rows * k > 2 * {rowsBlockFloats} else {{ return max(rows, 1) }}
    return max({mr} * 8, {rowsBlockFloats} / max(k, 1) / {mr} * {mr})
}}

/// The step that cuts `count` into the fewest even parts of at most `most` (576 in 5 x 116, not
/// 4 x 128 + 64: a short last block costs a pass over C like a full one).
@inline(__always)
private func evenSteps(_ count: Int, _ most: Int) -> Int {{
    let parts = max(1, (count + most - 1) / most)
    return (count + parts - 1) / parts
}}

/// Hands each row tile a slice of the packed-B block that follows the current one, which the
/// tile's kernel fetches into L2 spread over its k loop (then any rest after it): B blocks are
/// contiguous, so the next one (the next K block or the next panel) is the next `floats` floats.
/// With few rows (late convolutions, dense layers) each block of weights is used by few tiles,
/// and without this its first tile waits on memory for all of it. Spread over the k loop, the
/// fetches beat one burst before each tile on weight-bound layers (ResNet50's conv5 3x3:
/// 2.43 -> 2.14 ms, model min 56.4 -> 51.2 ms, interleaved runs).
private struct NextBlockPrefetch {{
    private var p: UnsafeRawPointer
    private let end: UnsafeRawPointer
    private let bytesPerTile: Int

    init(after block: UnsafePointer<Float>, floats: Int, end: UnsafePointer<Float>, tiles: Int) {{
        p = UnsafeRawPointer(block + floats)
        self.end = UnsafeRawPointer(min(end, block + 2 * floats))
        bytesPerTile = (floats * 4 / max(tiles, 1) + 63) & ~63
    }}

    /// The next tile's slice: its first line and how many lines.
    @inline(__always) mutating func next() -> (UnsafeRawPointer, Int) {{
        let start = p
        let stop = min(end, p + bytesPerTile)
        p = max(p, stop)
        return (start, stop > start ? (stop - start + 63) / 64 : 0)
    }}
}}

/// A convolution tile of up to {mr} output pixels (see `{low}ConvGemm`).
/// Whole tiles call their kernel straight from the driver's loop (see `tile`).
@inline(__always)
private func convTile(_ ptrs: UnsafePointer<UnsafePointer<Float>>, _ taps: Int, _ t0: Int, _ t1: Int, _ c0: Int, _ kc: Int,
                      _ rows: Int, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int,
                      _ accumulate: Bool, _ epi: UnsafePointer<dl_epilogue>?, _ col0: Int, _ row0: Int, _ ldb: Int,
                      _ pf: UnsafeRawPointer, _ pfLines: Int) {{
    if rows == {mr} && cols == {nr} {{
        convKernel{mr}x{nr}(ptrs, taps, t0, t1, c0, kc, rows, b, c, ldc, cols, accumulate, epi, col0, row0, ldb, pf, pfLines)
    }} else {{
        anyConvTile(ptrs, taps, t0, t1, c0, kc, rows, b, c, ldc, cols, accumulate, epi, col0, row0, ldb, pf, pfLines)
    }}
}}

@inline(never)
private func anyConvTile(_ ptrs: UnsafePointer<UnsafePointer<Float>>, _ taps: Int, _ t0: Int, _ t1: Int, _ c0: Int, _ kc: Int,
                         _ rows: Int, _ b: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ cols: Int,
                         _ accumulate: Bool, _ epi: UnsafePointer<dl_epilogue>?, _ col0: Int, _ row0: Int, _ ldb: Int,
                         _ pf: UnsafeRawPointer, _ pfLines: Int) {{
    switch (cols + {lanes1}) / {lanes} {{
{conv_dispatch}
    }}
}}

/// Output pixels [rowBegin, rowEnd) x the columns of B panels [panelBegin, panelEnd) of a
/// convolution without im2col (an indirect GEMM): `table[p * taps + t]` is the address of the
/// `cin` input channels under tap t of output pixel p, or of `cin` zeros where the tap falls in
/// the padding. B is the [taps * cin, n] weight matrix packed as for `{low}Sgemm`; the epilogue
/// is the same. K is cut in blocks of about {kc} (whole taps when cin is smaller, else parts of
/// one tap's channels), so a block of B stays in cache while all row tiles use it.
public func {low}ConvGemm(_ table: UnsafePointer<UnsafePointer<Float>>, _ taps: Int, _ cin: Int, _ n: Int,
                           _ packedB: UnsafePointer<Float>, _ c: UnsafeMutablePointer<Float>, _ ldc: Int,
                           _ epilogue: UnsafePointer<dl_epilogue>, _ rowBegin: Int, _ rowEnd: Int,
                           _ panelBegin: Int, _ panelEnd: Int) {{
    let pw = {low}PanelWidth(forColumns: n), k = taps * cin
    let bEnd = packedB + panelEnd * k * pw
    if k <= {rowsFirstK} && panelEnd - panelBegin > 1 && (panelEnd - panelBegin) * k * pw <= 4 * {rowsFirstFloats} {{
        // A short K and a B that stays in L2, as in {low}Sgemm: each row tile runs across all panels
        // with the whole K, C written row by row, each tile fetching a slice of the next tile's
        // output rows into L2 (a 1x1 conv with its shortcut, ConvParams.shortcut, on ResNet's
        // 56x56: 64 + 64 -> 256 channels). B up to 1 MB, 4x the plain GEMM's bound: ResNet50's
        // conv3 block with its shortcut (K 384, 786 KB of B) 2.08 -> 1.90 ms against blocks of K.
        let panels = panelEnd - panelBegin
        let fetchRows = panelBegin == 0 && panelEnd * pw >= n && ldc == n
        // The first panels fetch the next tile's input rows, one tap each (the span from the tap's
        // first pixel's row to its last's), the others (at least half) its output rows.
        let inputParts = min(taps, fetchRows ? panels / 2 : panels)
        var i = rowBegin
        while i < rowEnd {{
            let rows = tileRows(rowEnd - i)
            let next = min(rowEnd - i - rows, {mr})
            let nextBytes = fetchRows ? next * n * 4 : 0
            for p in panelBegin..<panelEnd {{
                let col0 = p * pw, part = p - panelBegin
                var (pf, pfLines) = (UnsafeRawPointer(packedB), 0)
                if part >= inputParts {{
                    (pf, pfLines) = prefetchSlice(UnsafeRawPointer(c + (i + rows) * ldc), nextBytes, part - inputParts, panels - inputParts,
                                                  none: UnsafeRawPointer(packedB))
                }} else if next > 0 {{
                    let first = UnsafeRawPointer(table[(i + rows) * taps + part])
                    let bytes = UnsafeRawPointer(table[(i + rows + next - 1) * taps + part] + cin) - first
                    (pf, pfLines) = prefetchSlice(first, bytes <= 4 * next * cin * 4 ? bytes : 0, 0, 1, none: UnsafeRawPointer(packedB))
                }}
                convTile(table + i * taps, taps, 0, taps, 0, cin, rows, packedB + p * k * pw, c + i * ldc + col0, ldc, min(pw, n - col0),
                         false, epilogue, col0, i, pw, pf, pfLines)
            }}
            i += rows
        }}
        return
    }}
    // Blocks of whole taps up to {tapkc} channels (a few-channel stem's K in one block), else one
    // tap's channels in even parts of about {kc}.
    let wholeTaps = cin <= {tapkc}
    let tapsPerBlock = wholeTaps ? evenSteps(taps, max(1, {tapkc} / max(cin, 1))) : 1
    let chunk = wholeTaps ? cin : evenSteps(cin, {kc})
    for p in panelBegin..<panelEnd {{
        let col0 = p * pw, cols = min(pw, n - col0)
        let bp = packedB + p * k * pw
        var t0 = 0
        while t0 < taps {{
            let t1 = min(taps, t0 + tapsPerBlock)
            var c0 = 0
            while c0 < cin {{
                let kc = min(chunk, cin - c0)
                let first = t0 == 0 && c0 == 0, last = t1 == taps && c0 + kc >= cin
                let epi: UnsafePointer<dl_epilogue>? = last ? epilogue : nil
                let bk = bp + (t0 * cin + c0) * pw
                var prefetch = NextBlockPrefetch(after: bk, floats: (wholeTaps ? (t1 - t0) * cin : kc) * pw, end: bEnd,
                                                 tiles: (rowEnd - rowBegin + {mr1}) / {mr})
                // One block of K over one panel of whole output rows (a few-channel stem): there is
                // no next block of weights to fetch, so each tile fetches the next tile's output rows.
                let fetchOutput = first && last && panelBegin == 0 && panelEnd == 1 && pw >= n && ldc == n
                var i = rowBegin
                while i < rowEnd {{
                    var (pf, pfLines) = prefetch.next()
                    let rows = tileRows(rowEnd - i)
                    if fetchOutput {{
                        (pf, pfLines) = (UnsafeRawPointer(c + (i + rows) * ldc), (min(rowEnd - i - rows, {mr}) * n * 4 + 63) / 64)
                    }}
                    convTile(table + i * taps, taps, t0, t1, c0, kc, rows, bk, c + i * ldc + col0, ldc, cols, !first, epi, col0, i, pw,
                             pf, pfLines)
                    i += rows
                }}
                c0 += kc
            }}
            t0 = t1
        }}
    }}
}}
""".format(low=name.lower(), nr=nr, parts="\n\n".join(parts), mr=MR, lanes=lanes, lanes1=lanes - 1, rowsFirstFloats=1 << 16,
           dispatch="\n".join(dispatch), gemvDispatch="\n".join(gemv_dispatch), kc=kc, tapkc=tap_kc, rowsFirstK=rows_first_k, onePanelFloats=one_panel_floats, mr1=MR - 1, rowsBlockFloats=1 << 18, conv_dispatch="\n".join(conv_dispatch))
    return src


def vectors(name, lanes):
    return '''// Generated by tools/gen_kernels.py; edit the generator, not this file.
import CDLInferCPU

/// The vector type of this tier's kernels and the loads and stores they share.
typealias V = SIMD{lanes}<Float>

@inline(__always) func load(_ p: UnsafePointer<Float>) -> V {{ UnsafeRawPointer(p).loadUnaligned(as: V.self) }}
@inline(__always) func load(_ p: UnsafeMutablePointer<Float>) -> V {{ UnsafeRawPointer(p).loadUnaligned(as: V.self) }}
@inline(__always) func store(_ v: V, _ p: UnsafeMutablePointer<Float>) {{ UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }}

/// The first `count` lanes at p (count may be <= 0 or > lanes), zero elsewhere: the edge of a
/// tile, where a full load would read past the row (one masked load; see dl_simd.h).
@inline(__always) func partial(_ p: UnsafePointer<Float>, _ count: Int) -> V {{ dl_load_first{lanes}(p, Int64(count)) }}
@inline(__always) func partial(_ p: UnsafeMutablePointer<Float>, _ count: Int) -> V {{ dl_load_first{lanes}(p, Int64(count)) }}

/// Stores the first `count` lanes of v at p (one masked store).
@inline(__always) func storePartial(_ v: V, _ p: UnsafeMutablePointer<Float>, _ count: Int) {{ dl_store_first{lanes}(p, v, Int64(count)) }}

/// v held to [lo, hi] where it is ordered: lo where v < lo, hi where v > hi, else v (a NaN stays),
/// one max and one min (see dl_max{lanes}).
@inline(__always) func clamped(_ v: V, _ lo: V, _ hi: V) -> V {{ dl_min{lanes}(hi, dl_max{lanes}(lo, v)) }}
'''.format(lanes=lanes)


def depthwise_epilogue(acc, pixel, indent, partial_lanes):
    """Bias, residual, register activation and store of one output vector `acc` of pixel `pixel`."""
    pad = " " * indent
    lines = ["let pixel = " + pixel, "let out = output + (pixel * c + c0)", "var v = %s + biasV" % acc]
    if partial_lanes:
        lines += ["if let residual {", "    let rr: UnsafePointer<Float> = residual + (pixel * ldr + c0)",
                  "    v += full ? load(rr) : partial(rr, lanes)", "}"]
    else:
        lines += ["if let residual { v += load(residual + (pixel * ldr + c0)) }"]
    lines += ["switch act {",
              "case Int32(DL_ACT_RELU): v.replace(with: 0, where: v .< 0)",
              "case Int32(DL_ACT_CLAMP): v = clamped(v, lo, hi)",
              "case Int32(DL_ACT_LEAKY): v.replace(with: v * lo, where: v .< 0)",
              "default: break",
              "}",
              "if full { store(v, out) } else { storePartial(v, out, lanes) }" if partial_lanes else "store(v, out)"]
    return "".join(pad + l + "\n" for l in lines)


def depthwise_four_pixels():
    """The 3x3 interior step over four output pixels: 36 FMAs in four chains, then four epilogues."""
    out = []
    for ky in range(3):
        for kx in range(3):
            off = ["", " + dx", " + 2 * dx"][kx]
            for q in range(4):
                sx = ["", " + sx", " + 2 * sx", " + 3 * sx"][q]
                out.append("                        a%d = a%d.addingProduct(load(r%d%s%s), w%d)\n" % (q, q, ky, off, sx, ky * 3 + kx))
    for q in range(4):
        out.append("                        do {\n")
        out.append(depthwise_epilogue("a%d" % q, "oy * ow + ox" + (" + %d" % q if q else ""), 28, False))
        out.append("                        }\n")
    return "".join(out)


def depthwise_eight_pixels():
    """The 3x3 interior step over eight output pixels of a row for stride 1 and 2 (no dilation):
    each input vector is loaded once and feeds every output whose window covers it, and the
    eight FMA chains keep both FMA ports busy (four chains wait on the FMA latency). Per output
    the taps accumulate in the same order as in the other paths, so results are identical."""
    pad = " " * 28
    out = []
    for stride in (1, 2):
        out.append("                        %s {\n" % ("if sw == 1" if stride == 1 else "} else"))
        columns = 7 * stride + 3   # input columns under eight outputs
        # Each column at its own offset from the row's start: stepping one pointer along the row
        # (q += c) made every load's address wait on the previous one's.
        for ky in range(3):
            for j in range(columns):
                out.append(pad + "x = load(r%d%s)\n" % (ky, "" if j == 0 else " + %d * c" % j))
                for kx in range(3):
                    o, rest = divmod(j - kx, stride)
                    if rest == 0 and 0 <= o < 8:
                        out.append(pad + "a%d = a%d.addingProduct(x, w%d)\n" % (o, o, ky * 3 + kx))
    out.append("                        }\n")
    for q in range(8):
        out.append("                        do {\n")
        out.append(depthwise_epilogue("a%d" % q, "oy * ow + ox" + (" + %d" % q if q else ""), 28, False))
        out.append("                        }\n")
    return "".join(out)


def depthwise(name, lanes):
    # Eight-pixel blocks need 9 weights + 8 accumulators in registers: AVX-512 only (32 of them).
    eight = '''                    if rowsInside && full && dw == 1 && sw <= 2 && ox + 8 <= ow && ix0 >= 0 && ix0 + 7 * sw + 2 < w {{
                        let r0: UnsafePointer<Float> = input + (iy0 * rowStride + ix0 * c + c0)
                        let r1: UnsafePointer<Float> = r0 + dy, r2: UnsafePointer<Float> = r1 + dy
                        var a0 = V(), a1 = V(), a2 = V(), a3 = V(), a4 = V(), a5 = V(), a6 = V(), a7 = V()
                        var x = V()
{eight_pixels}                        ox += 8
                        continue
                    }}
'''.format(eight_pixels=depthwise_eight_pixels()) if lanes == 16 else ""
    return '''// Generated by tools/gen_kernels.py; edit the generator, not this file.
import CDLInferCPU

/// Output rows [rowBegin, rowEnd) of a depthwise convolution (multiplier 1): channels in vectors
/// of {lanes}, one channel block at a time along an output row. A 3x3 window keeps its weights in
/// registers and reads interior pixels without bounds checks; other sizes take the general loop.
public func {low}Depthwise(_ d: UnsafePointer<dl_dwconv>, _ epilogue: UnsafePointer<dl_epilogue>, _ rowBegin: Int, _ rowEnd: Int) {{
    let p = d.pointee
    let c = Int(p.c), w = Int(p.w), h = Int(p.h), ow = Int(p.ow), kh = Int(p.kh), kw = Int(p.kw)
    let sh = Int(p.sh), sw = Int(p.sw), dh = Int(p.dh), dw = Int(p.dw), top = Int(p.pad_top), left = Int(p.pad_left)
    let input: UnsafePointer<Float> = p.input, weights: UnsafePointer<Float> = p.weights
    let output: UnsafeMutablePointer<Float> = p.output
    let rowStride = w * c
    let ep = epilogue.pointee
    let act = ep.activation, lo = V(repeating: ep.lo), hi = V(repeating: ep.hi)
    let residual: UnsafePointer<Float>? = ep.residual, ldr = Int(ep.ld_residual)
    for oy in rowBegin..<rowEnd {{
        let iy0 = oy * sh - top
        var c0 = 0
        while c0 < c {{
            let lanes = c - c0
            let full = lanes >= {lanes}
            var biasV = V()
            if let b = ep.bias {{ biasV = load(b + c0) }}
            if kh == 3 && kw == 3 {{
                @inline(__always) func wv(_ t: Int) -> V {{
                    let q: UnsafePointer<Float> = weights + (t * c + c0)
                    return full ? load(q) : partial(q, lanes)
                }}
                let w0 = wv(0), w1 = wv(1), w2 = wv(2), w3 = wv(3), w4 = wv(4), w5 = wv(5), w6 = wv(6), w7 = wv(7), w8 = wv(8)
                let rowsInside = iy0 >= 0 && iy0 + 2 * dh < h
                let dy: Int = dh * rowStride, dx: Int = dw * c
                var ox = 0
                while ox < ow {{
                    let ix0 = ox * sw - left
{eight}                    if rowsInside && full && ox + 4 <= ow && ix0 >= 0 && ix0 + 3 * sw + 2 * dw < w {{
                        // Four interior output pixels at once: four independent FMA chains.
                        let sx = sw * c
                        let r0: UnsafePointer<Float> = input + (iy0 * rowStride + ix0 * c + c0)
                        let r1: UnsafePointer<Float> = r0 + dy, r2: UnsafePointer<Float> = r1 + dy
                        var a0 = V(), a1 = V(), a2 = V(), a3 = V()
{four_pixels}                        ox += 4
                        continue
                    }}
                    var acc = V()
                    if rowsInside && full && ix0 >= 0 && ix0 + 2 * dw < w {{
                        let r0: UnsafePointer<Float> = input + (iy0 * rowStride + ix0 * c + c0)
                        let r1: UnsafePointer<Float> = r0 + dy, r2: UnsafePointer<Float> = r1 + dy
                        acc = acc.addingProduct(load(r0), w0)
                        acc = acc.addingProduct(load(r0 + dx), w1)
                        acc = acc.addingProduct(load(r0 + 2 * dx), w2)
                        acc = acc.addingProduct(load(r1), w3)
                        acc = acc.addingProduct(load(r1 + dx), w4)
                        acc = acc.addingProduct(load(r1 + 2 * dx), w5)
                        acc = acc.addingProduct(load(r2), w6)
                        acc = acc.addingProduct(load(r2 + dx), w7)
                        acc = acc.addingProduct(load(r2 + 2 * dx), w8)
                    }} else {{
                        for ky in 0..<3 {{
                            let iy = iy0 + ky * dh
                            if iy < 0 || iy >= h {{ continue }}
                            for kx in 0..<3 {{
                                let ix = ix0 + kx * dw
                                if ix < 0 || ix >= w {{ continue }}
                                let src: UnsafePointer<Float> = input + (iy * rowStride + ix * c + c0)
                                let x: V = full ? load(src) : partial(src, lanes)
                                let tap: Int = ky * 3 + kx
                                let k: V = tap < 3 ? (tap == 0 ? w0 : (tap == 1 ? w1 : w2))
                                    : (tap < 6 ? (tap == 3 ? w3 : (tap == 4 ? w4 : w5)) : (tap == 6 ? w6 : (tap == 7 ? w7 : w8)))
                                acc = acc.addingProduct(x, k)
                            }}
                        }}
                    }}
{finish}                    ox += 1
                }}
            }} else {{
                for ox in 0..<ow {{
                    let ix0 = ox * sw - left
                    var acc = V()
                    for ky in 0..<kh {{
                        let iy = iy0 + ky * dh
                        if iy < 0 || iy >= h {{ continue }}
                        for kx in 0..<kw {{
                            let ix = ix0 + kx * dw
                            if ix < 0 || ix >= w {{ continue }}
                            let src: UnsafePointer<Float> = input + (iy * rowStride + ix * c + c0)
                            let wt: UnsafePointer<Float> = weights + ((ky * kw + kx) * c + c0)
                            let x: V = full ? load(src) : partial(src, lanes)
                            let k: V = full ? load(wt) : partial(wt, lanes)
                            acc = acc.addingProduct(x, k)
                        }}
                    }}
{finish}                }}
            }}
            c0 += {lanes}
        }}
    }}
}}
'''.format(lanes=lanes, low=name.lower(), four_pixels=depthwise_four_pixels(), eight=eight,
                  finish=depthwise_epilogue("acc", "oy * ow + ox", 20, True))


def pool_block(lanes, nv, loop):
    """Pooling of nv full channel vectors at once (`loop`: "while" repeats the block, "if" runs it
    at most once), as Swift lines for the pooling kernel."""
    acc = ["a%d" % j for j in range(nv)]
    out = ["            %s c0 + %d <= c {" % (loop, nv * lanes),
           "                var " + ", ".join("%s = start" % x for x in acc),
           "                for iy in ys..<max(ys, ye) {",
           "                    var src = p.input + (iy * w + xs) * c + c0",
           "                    for _ in xs..<max(xs, xe) {"]
    out += ["                        poolTap(&%s, load(%s), isMax)" % (x, "src" if j == 0 else "src + %d" % (j * lanes)) for j, x in enumerate(acc)]
    out += ["                        src += c",
            "                    }",
            "                }",
            "                if !isMax { " + "; ".join("%s /= count" % x for x in acc) + " }",
            "                " + "; ".join("store(%s, out + c0%s)" % (x, "" if j == 0 else " + %d" % (j * lanes)) for j, x in enumerate(acc)),
            "                c0 += %d" % (nv * lanes),
            "            }"]
    return "\n".join(out) + "\n"


def pool_quad_block(lanes, nv, loop):
    """Four neighbouring output pixels (windows inside the row) x nv channel vectors: 4 x nv
    independent compare-and-blend chains, each pixel's taps in the single-pixel order."""
    acc = [["q%d%d" % (q, j) for j in range(nv)] for q in range(4)]
    flat = [x for row in acc for x in row]
    out = ["                %s c0 + %d <= c {" % (loop, nv * lanes),
           "                    var " + ", ".join("%s = start" % x for x in flat),
           "                    for iy in ys..<max(ys, ye) {",
           "                        var src = p.input + (iy * w + x0) * c + c0",
           "                        for _ in 0..<kw {"]
    for q in range(4):
        for j in range(nv):
            off = " + ".join(t for t in ([("step * %d" % q) if q > 1 else "step"] if q else []) + ([str(j * lanes)] if j else []))
            out.append("                            poolTap(&%s, load(%s), isMax)" % (acc[q][j], "src + " + off if off else "src"))
    out += ["                            src += c",
            "                        }",
            "                    }",
            "                    if !isMax { " + "; ".join("%s /= count" % x for x in flat) + " }"]
    for q in range(4):
        out.append("                    " + "; ".join("store(%s, out + %sc0%s)" % (acc[q][j], "" if q == 0 else ("c + " if q == 1 else "%d * c + " % q),
                                                                               "" if j == 0 else " + %d" % (j * lanes)) for j in range(nv)))
    out += ["                    c0 += %d" % (nv * lanes),
            "                }"]
    return "\n".join(out) + "\n"


def pooling(name, lanes):
    return '''// Generated by tools/gen_kernels.py; edit the generator, not this file.
import CDLInferCPU

/// One tap of max pooling (NaN wins and stays, as in TensorFlow) or of an average's sum.
@_transparent
private func poolTap(_ acc: inout V, _ x: V, _ isMax: Bool) {{
    if isMax {{ acc.replace(with: x, where: (x .> acc) .| (x .!= x)) }} else {{ acc += x }}
}}

/// Output rows [rowBegin, rowEnd) of max or average pooling over one image, channels in vectors
/// of {lanes}: max propagates NaN (as TensorFlow), an average divides by the taps inside the image.
/// Each tap's compare-and-blend waits on the previous one, so independent chains run together:
/// four neighbouring output pixels at a time where their windows lie inside the row (a small
/// CNN's 2x2 pools on 32 and 64 channels ran at that chain's latency, one pixel at a time), else
/// four (then two) channel vectors of one pixel. Every pixel sees its taps in the same order
/// either way, so the results do not depend on the path.
public func {low}Pool(_ d: UnsafePointer<dl_pool>, _ rowBegin: Int, _ rowEnd: Int) {{
    let p = d.pointee
    let c = Int(p.c), w = Int(p.w), h = Int(p.h), ow = Int(p.ow), kh = Int(p.kh), kw = Int(p.kw)
    let sw = Int(p.sw), padLeft = Int(p.pad_left)
    let isMax = p.is_max != 0
    let start = isMax ? V(repeating: -.infinity) : V()
    // Output columns [inFirst, inEnd) have their whole window inside the row.
    let inFirst = min(ow, (padLeft + sw - 1) / sw)
    let inEnd = w >= kw ? max(inFirst, min(ow, (w - kw + padLeft) / sw + 1)) : inFirst
    let step = sw * c
    for oy in rowBegin..<rowEnd {{
        let y0 = oy * Int(p.sh) - Int(p.pad_top)
        let ys = max(y0, 0), ye = min(y0 + kh, h)
        var ox = 0
        while ox < ow {{
            let x0 = ox * sw - padLeft
            let out = p.output + (oy * ow + ox) * c
            if ox >= inFirst && ox + 4 <= inEnd {{
                let count = V(repeating: Float(max((ye - ys) * kw, 1)))
                var c0 = 0
{quads}                if c0 < c {{
                    for q in 0..<4 {{
                        var acc = start
                        for iy in ys..<max(ys, ye) {{
                            var src = p.input + (iy * w + x0) * c + c0 + q * step
                            for _ in 0..<kw {{
                                poolTap(&acc, partial(src, c - c0), isMax)
                                src += c
                            }}
                        }}
                        if !isMax {{ acc /= count }}
                        storePartial(acc, out + q * c + c0, c - c0)
                    }}
                }}
                ox += 4
                continue
            }}
            let xs = max(x0, 0), xe = min(x0 + kw, w)
            let count = V(repeating: Float(max((ye - ys) * (xe - xs), 1)))
            var c0 = 0
{blocks}            while c0 < c {{
                let lanes = c - c0
                let full = lanes >= {lanes}
                var acc = start
                for iy in ys..<max(ys, ye) {{
                    var src = p.input + (iy * w + xs) * c + c0
                    for _ in xs..<max(xs, xe) {{
                        poolTap(&acc, full ? load(src) : partial(src, lanes), isMax)
                        src += c
                    }}
                }}
                if !isMax {{ acc /= count }}
                if full {{ store(acc, out + c0) }} else {{ storePartial(acc, out + c0, lanes) }}
                c0 += {lanes}
            }}
            ox += 1
        }}
    }}
}}
'''.format(lanes=lanes, low=name.lower(), blocks=pool_block(lanes, 4, "while") + pool_block(lanes, 2, "if"),
           quads=pool_quad_block(lanes, 2, "while") + pool_quad_block(lanes, 1, "if"))

# Winograd F(4x4, 3x3) (Lavin & Gray): Y = A^T [(G g G^T) . (B^T d B)] A over 6x6 input tiles;
# the kernels apply the 1-D transforms down columns, then along rows. With the rows of
#   B^T = [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
#          [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]]
#   A^T = [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]]
# written out below with their shared sums (bt, at).


def winograd_bt4(x, name, emit):
    """F(4x4, 3x3)'s B^T x for x[0..5], its rows sharing (x1 + x2) and (x1 - x2) scaled by 4,
    (x3 + x4), (x4 - x3), (x4 - x2) and (x3 - x1) (the factoring ncnn and NNPACK use)."""
    p, q, u, v = name + "p", name + "q", name + "u", name + "v"
    emit("let %s = %s + %s, %s = %s - %s" % (p, x[1], x[2], q, x[1], x[2]))
    emit("let %s = %s - %s, %s = %s - %s" % (u, x[4], x[2], v, x[3], x[1]))
    return ["V(repeating: 4) * %s - V(repeating: 5) * %s + %s" % (x[0], x[2], x[4]),
            "%s + %s - V(repeating: 4) * %s" % (x[3], x[4], p),
            "%s - %s + V(repeating: 4) * %s" % (x[4], x[3], q),
            "%s + V(repeating: 2) * %s" % (u, v),
            "%s - V(repeating: 2) * %s" % (u, v),
            "V(repeating: 4) * %s - V(repeating: 5) * %s + %s" % (x[1], x[3], x[5])]


def winograd_at4(x, name, emit):
    """F(4x4, 3x3)'s A^T x for x[0..5], its rows sharing (x1 + x2, x1 - x2, x3 + x4, x3 - x4); its
    constants are powers of two, so every product is exact."""
    a, b, c, d = name + "a", name + "b", name + "c", name + "d"
    emit("let %s = %s + %s, %s = %s - %s" % (a, x[1], x[2], b, x[1], x[2]))
    emit("let %s = %s + %s, %s = %s - %s" % (c, x[3], x[4], d, x[3], x[4]))
    return ["%s + %s + %s" % (x[0], a, c), "%s + V(repeating: 2) * %s" % (b, d),
            "%s + V(repeating: 4) * %s" % (a, c), "%s + V(repeating: 8) * %s + %s" % (b, d, x[5])]


def winograd_bt2(x, name, emit):
    """F(2x2, 3x3)'s B^T x for x[0..3] (0/1/-1: additions only)."""
    return ["%s - %s" % (x[0], x[2]), "%s + %s" % (x[1], x[2]), "%s - %s" % (x[2], x[1]), "%s - %s" % (x[1], x[3])]


def winograd_at2(x, name, emit):
    """F(2x2, 3x3)'s A^T x for x[0..3]."""
    return ["%s + %s + %s" % (x[0], x[1], x[2]), "%s - %s - %s" % (x[1], x[2], x[3])]


# Per variant: the public functions' name part, its title, the output tile edge m, the input
# tile edge alpha = m + 2, and B^T / A^T applied to one column or row.
WINOGRAD_VARIANTS = [("Winograd", "F(4x4, 3x3)", 4, 6, winograd_bt4, winograd_at4),
                     ("Winograd2x2", "F(2x2, 3x3)", 2, 4, winograd_bt2, winograd_at2)]


def winograd_bodies(m, alpha, bt, at):
    """The input transform's body (alpha^2 loads, B^T d B by columns then rows) and one tile's
    channels' output transform (A^T m A, the m x m pixels inside the image through winogradFinish)."""
    lines = []

    def w(line):
        lines.append("            " + line)
    for i in range(alpha):
        w("let " + ", ".join("d%d%d = at(%d, %d)" % (i, j, i, j) for j in range(alpha)))
    for j in range(alpha):
        for i, v in enumerate(bt(["d%d%d" % (k, j) for k in range(alpha)], "c%d" % j, w)):
            w("let t%d%d = %s" % (i, j, v))
    for i in range(alpha):
        for j, v in enumerate(bt(["t%d%d" % (i, k) for k in range(alpha)], "r%d" % i, w)):
            w("put(%d, %s)" % (i * alpha + j, v))
    out = []

    def o(line):
        out.append("    " + line)
    for i in range(alpha):
        o("let " + ", ".join("m%d%d = winogradLoad(full, m + (%d * tiles * n + tile * n + ch), lanes)"
                             % (i, j, i * alpha + j) for j in range(alpha)))
    for j in range(alpha):
        for i, v in enumerate(at(["m%d%d" % (k, j) for k in range(alpha)], "c%d" % j, o)):
            o("let s%d%d = %s" % (i, j, v))
    for i in range(m):
        for j, v in enumerate(at(["s%d%d" % (i, k) for k in range(alpha)], "r%d" % i, o)):
            o("if oy0 + %d < oh && ox0 + %d < ow {" % (i, j))
            o("    winogradFinish(%s, y, (oy0 + %d) * ow + ox0 + %d, n, ch, lanes, full, bias, residual, act, lo, hi)" % (v, i, j))
            o("}")
    return "\n".join(lines), "\n".join(out)


WINOGRAD_VARIANT_SRC = """
/// Winograd {title} input transform of tiles [tileBegin, tileEnd) of one image ([h, w, c] at
/// x): tile t covers input rows t / tilesW * {m} - padTop ..< +{alpha} and columns likewise (zero
/// outside the image); v[e * tiles * c + t * c + ci] = (B^T d B)[e] for each channel ci ({products}
/// products).
public func {low}{fn}Input(_ x: UnsafePointer<Float>, _ h: Int, _ w: Int, _ c: Int, _ padTop: Int, _ padLeft: Int,
                               _ tilesW: Int, _ tiles: Int, _ v: UnsafeMutablePointer<Float>, _ tileBegin: Int, _ tileEnd: Int) {{
    for tile in tileBegin..<tileEnd {{
        let y0 = tile / tilesW * {m} - padTop, x0 = tile % tilesW * {m} - padLeft
        var c0 = 0
        while c0 < c {{
            // The local functions capture only constants (a captured var can be boxed on the heap).
            let lanes = c - c0, ch = c0
            @inline(__always) func at(_ i: Int, _ j: Int) -> V {{
                let y = y0 + i, xx = x0 + j
                if y < 0 || y >= h || xx < 0 || xx >= w {{ return V() }}
                let src = x + ((y * w + xx) * c + ch)
                return lanes >= {lanes} ? load(src) : partial(src, lanes)
            }}
            @inline(__always) func put(_ e: Int, _ value: V) {{
                let dst = v + (e * tiles * c + tile * c + ch)
                if lanes >= {lanes} {{ store(value, dst) }} else {{ storePartial(value, dst, lanes) }}
            }}
{input_body}
            c0 += {lanes}
        }}
    }}
}}

/// {title}: A^T m A for tile `tile`'s channels [ch, ch + lanes) (all {lanes} when `full`): the
/// pixels inside [oh, ow] through `winogradFinish`. @_transparent and called with a literal `full`,
/// so the full-vector path has no per-load lanes test (merged, perf showed 128-bit inserts there).
@_transparent
private func {fnLower}OutputChannels(_ full: Bool, _ m: UnsafePointer<Float>, _ tiles: Int, _ n: Int, _ tile: Int, _ ch: Int,
                                    _ lanes: Int, _ oy0: Int, _ ox0: Int, _ oh: Int, _ ow: Int, _ y: UnsafeMutablePointer<Float>,
                                    _ bias: V, _ residual: UnsafePointer<Float>?, _ act: Int32, _ lo: V, _ hi: V) {{
{output_channels}
}}

/// Winograd {title} output transform of tiles [tileBegin, tileEnd): from m[e * tiles * n +
/// t * n + co] (the {products} products), y[(oy * ow + ox) * n + co] = A^T m A for the pixels of the
/// tile inside [oh, ow], then the epilogue (bias, residual laid out like y, register activation).
public func {low}{fn}Output(_ m: UnsafePointer<Float>, _ tiles: Int, _ n: Int, _ tilesW: Int, _ oh: Int, _ ow: Int,
                                _ y: UnsafeMutablePointer<Float>, _ epilogue: UnsafePointer<dl_epilogue>,
                                _ tileBegin: Int, _ tileEnd: Int) {{
    let ep = epilogue.pointee
    let act = ep.activation, lo = V(repeating: ep.lo), hi = V(repeating: ep.hi)
    let residual: UnsafePointer<Float>? = ep.residual
    for tile in tileBegin..<tileEnd {{
        let oy0 = tile / tilesW * {m}, ox0 = tile % tilesW * {m}
        var c0 = 0
        while c0 < n {{
            let lanes = n - c0, ch = c0
            var b = V()
            if let bias = ep.bias {{ b = load(bias + ch) }}
            if lanes >= {lanes} {{
                {fnLower}OutputChannels(true, m, tiles, n, tile, ch, lanes, oy0, ox0, oh, ow, y, b, residual, act, lo, hi)
            }} else {{
                {fnLower}OutputChannels(false, m, tiles, n, tile, ch, lanes, oy0, ox0, oh, ow, y, b, residual, act, lo, hi)
            }}
            c0 += {lanes}
        }}
    }}
}}
"""


def winograd(name, lanes):
    """The Winograd module of a tier: the finiteness check, the shared per-pixel epilogue and
    product load, then each variant's input transform, per-tile output transform and driver."""
    low = name.lower()
    src = """// Generated by tools/gen_kernels.py; edit the generator, not this file.
import CDLInferCPU

/// Whether all `count` floats at p are finite (a Winograd transform would smear a NaN or an
/// infinity over its whole tile, where Keras' direct convolution keeps it to the pixels it reaches).
public func {low}AllFinite(_ p: UnsafePointer<Float>, _ count: Int) -> Bool {{
    var acc = V()
    var i = 0
    while i + {lanes} <= count {{
        acc += load(p + i) * V()
        i += {lanes}
    }}
    if i < count {{ acc += partial(p + i, count - i) * V() }}
    return acc == V()  // x * 0 is 0 for finite x, NaN otherwise
}}

/// One output pixel's channels [ch, ch + lanes) of a Winograd tile: the epilogue (bias,
/// residual laid out like y, register activation), then the store. A file-level function: as a
/// local function capturing the tile's state, and as @inline(__always), it stayed a call per
/// pixel (seen in perf); @_transparent inlines it.
@_transparent
private func winogradFinish(_ value: V, _ y: UnsafeMutablePointer<Float>, _ pixel: Int, _ n: Int, _ ch: Int, _ lanes: Int,
                            _ full: Bool, _ bias: V, _ residual: UnsafePointer<Float>?, _ act: Int32, _ lo: V, _ hi: V) {{
    let at = pixel * n + ch
    var r = value + bias
    if let residual {{ r += full ? load(residual + at) : partial(residual + at, lanes) }}
    switch act {{
    case Int32(DL_ACT_RELU): r.replace(with: 0, where: r .< 0)
    case Int32(DL_ACT_CLAMP): r = clamped(r, lo, hi)
    case Int32(DL_ACT_LEAKY): r.replace(with: r * lo, where: r .< 0)
    default: break
    }}
    if full {{ store(r, y + at) }} else {{ storePartial(r, y + at, lanes) }}
}}

/// A vector of the Winograd products: all lanes when `full`, else the first `lanes`.
@_transparent
private func winogradLoad(_ full: Bool, _ p: UnsafePointer<Float>, _ lanes: Int) -> V {{
    full ? load(p) : partial(p, lanes)
}}
"""
    for fn, title, m, alpha, bt, at in WINOGRAD_VARIANTS:
        input_body, output_channels = winograd_bodies(m, alpha, bt, at)
        src += (WINOGRAD_VARIANT_SRC.replace("{fn}", fn).replace("{fnLower}", fn[0].lower() + fn[1:])
                .replace("{title}", title).replace("{m}", str(m)).replace("{alpha}", str(alpha))
                .replace("{products}", str(alpha * alpha)).replace("{input_body}", input_body)
                .replace("{output_channels}", output_channels))
    return src.replace("{low}", low).replace("{lanes}", str(lanes)).replace("{{", "{").replace("}}", "}")


def patches(name, lanes):
    return """// Generated by tools/gen_kernels.py; edit the generator, not this file.

""" + PATCHES.replace("{low}", name.lower()).replace("{lanes}", str(lanes))


PATCHES = """/// Copies `count` floats (vectors, then one masked tail).
@inline(__always) private func copyFloats(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ count: Int) {
    var i = 0
    while i + {lanes} <= count {
        store(load(src + i), dst + i)
        i += {lanes}
    }
    if i < count { storePartial(partial(src + i, count - i), dst + i, count - i) }
}

@inline(__always) private func zeroFloats(_ dst: UnsafeMutablePointer<Float>, _ count: Int) {
    var i = 0
    while i + {lanes} <= count {
        store(V(), dst + i)
        i += {lanes}
    }
    if i < count { storePartial(V(), dst + i, count - i) }
}

/// Patch rows [pixelBegin, pixelEnd) of one image ([h, w, c] at x) for channels [c0, c0 + cg):
/// cols[pixel * kh * kw * cg ...] = the receptive field of output pixel `pixel`, zero in the
/// padding (the reference is im2col in Kernels/ConvKernels.swift). Without dilation or groups, a
/// kernel row inside the image is one contiguous run.
public func {low}Im2col(_ x: UnsafePointer<Float>, _ h: Int, _ w: Int, _ c: Int, _ c0: Int, _ cg: Int,
                        _ kh: Int, _ kw: Int, _ sh: Int, _ sw: Int, _ dh: Int, _ dw: Int, _ padTop: Int, _ padLeft: Int,
                        _ ow: Int, _ cols: UnsafeMutablePointer<Float>, _ pixelBegin: Int, _ pixelEnd: Int) {
    let rowLen = kh * kw * cg, runs = dw == 1 && cg == c
    var oy = pixelBegin / ow, ox = pixelBegin - oy * ow
    for pixel in pixelBegin..<pixelEnd {
        defer {
            ox += 1
            if ox == ow { ox = 0; oy += 1 }
        }
        var dst = cols + pixel * rowLen
        let x0 = ox * sw - padLeft
        let rowInside = runs && x0 >= 0 && x0 + kw <= w
        for ky in 0..<kh {
            let iy = oy * sh - padTop + ky * dh
            if iy < 0 || iy >= h {
                zeroFloats(dst, kw * cg)
            } else if rowInside {
                copyFloats(dst, x + ((iy * w + x0) * c), kw * cg)
            } else {
                for kx in 0..<kw {
                    let ix = x0 + kx * dw
                    if ix < 0 || ix >= w { zeroFloats(dst + kx * cg, cg) } else { copyFloats(dst + kx * cg, x + ((iy * w + ix) * c + c0), cg) }
                }
            }
            dst += kw * cg
        }
    }
}
"""


def probe(name, lanes):
    chains = 12
    decl = "\n".join("    var a%d = V(repeating: %d)" % (i, i + 1) for i in range(chains))
    body = "\n".join("        a%d = y.addingProduct(a%d, x)" % (i, i) for i in range(chains))
    total = " + ".join("a%d" % i for i in range(chains))
    return """// Generated by tools/gen_kernels.py; edit the generator, not this file.

/// Lanes of this tier's vectors (the FMA probe's flops per FMA are 2 * lanes).
public let {low}Lanes = {lanes}

/// {chains} independent chains of vector FMAs, no memory traffic, for `iterations` rounds: the
/// FMA throughput of one core at this tier (dlbench's measured peak). The chains' sum goes to
/// `sink` ({lanes} floats), so nothing is optimized away.
public func {low}FmaProbe(_ iterations: Int, _ sink: UnsafeMutablePointer<Float>) {{
{decl}
    let x = V(repeating: 0.999999), y = V(repeating: 1e-7)
    for _ in 0..<iterations {{
{body}
    }}
    store({total}, sink)
}}
""".format(low=name.lower(), lanes=lanes, chains=chains, decl=decl, body=body, total=total)


def math_kernels(name, lanes):
    """Vectorized exp, sigmoid, tanh, erf, gelu (erf and tanh forms), swish, and the row pieces
    of softmax and LayerNormalization; the scalar twins (the reference) are in the engine."""
    lane_index = "V(%s)" % ", ".join(str(i) for i in range(lanes))
    text = re.sub(r"\{map (\w+) (\w+)\}\n", lambda m: math_map(m.group(1), m.group(2)), MATH)
    return ("// Generated by tools/gen_kernels.py; edit the generator, not this file.\n"
            + text.replace("{low}", name.lower()).replace("{lanes}", str(lanes)).replace("{lane_index}", lane_index))


def math_map(name, function):
    """dst[i] = function(src[i]) over count floats: two vectors per step, then a masked tail."""
    return """public func {low}%s(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ count: Int) {
    var i = 0
    while i + 2 * {lanes} <= count {  // two independent vectors per step
        let y0 = %s(load(src + i)), y1 = %s(load(src + i + {lanes}))
        store(y0, dst + i)
        store(y1, dst + i + {lanes})
        i += 2 * {lanes}
    }
    while i < count {
        let rest = count - i, full = rest >= {lanes}
        let y = %s(full ? load(src + i) : partial(src + i, rest))
        if full { store(y, dst + i) } else { storePartial(y, dst + i, rest) }
        i += {lanes}
    }
}
""" % (name, function, function, function)


MATH = """import CDLInferCPU

// Elementwise transcendentals over contiguous floats, SIMD{lanes} with one masked tail. Accuracy
// (float32 inputs, against exact values; Tests/DLInferTests/Kernels/MathKernelTests.swift):
// exp, sigmoid, tanh, swish: a few ulp (relative error < 4e-7) over the whole float range, with
// correct subnormal results; erf and erf-gelu: relative error < 1e-6; tanh-gelu: < 1e-6 where its
// exp argument is small, growing with it (the float32 rounding of the argument) in the far
// negative tail. Special values as Keras: NaN stays NaN, exp(+inf) = inf, exp(-inf) = 0,
// sigmoid(+-inf) = 1 / 0, tanh(+-inf) = +-1, erf(+-inf) = +-1, gelu(+inf) = swish(+inf) = inf and
// gelu(-inf) = swish(-inf) = NaN (-inf * 0, as 0.5 * x * (1 + erf) gives in TensorFlow).
//
// The helpers are @_transparent: with @inline(__always), a helper used at two sites (the loop and
// its masked tail) was left as a call, its SIMD arguments split across registers.

private typealias VI = SIMD{lanes}<Int32>

@_transparent private func splat(_ x: Float) -> V { V(repeating: x) }
@_transparent private func bits(_ v: V) -> VI { unsafeBitCast(v, to: VI.self) }
@_transparent private func float(_ v: VI) -> V { unsafeBitCast(v, to: V.self) }
@_transparent private func absolute(_ v: V) -> V { float(bits(v) & VI(repeating: 0x7FFF_FFFF)) }
/// |v| with the sign of s.
@_transparent private func withSign(_ v: V, of s: V) -> V { float(bits(v) | (bits(s) & VI(repeating: Int32.min))) }
/// The lanes at and after `count` (a masked tail's padding).
@_transparent private func padding(_ count: Int) -> SIMDMask<VI> { {lane_index} .>= V(repeating: Float(count)) }

/// exp(x + lo) = y * s1 * s2 with y = e^r and s1 * s2 = 2^k (lo: a small low part of the
/// argument). Cody-Waite reduction x = k ln2 + r, |r| <= ln2 / 2, Cephes' degree-6 polynomial for
/// e^r, 2^k as two exponent-bit factors (k in [-174, 128]) so that y * factor * s1 * s2 rounds
/// once into the subnormals. x is clamped to [-120, 89]: below, y * s1 * s2 (and y * f * s1 * s2
/// for |f| < 2^20) rounds to 0, above it overflows to inf. NaN stays NaN.
@_transparent private func expParts(_ x0: V, lo: V, hasLo: Bool) -> (y: V, s1: V, s2: V) {
    var x = x0
    x.replace(with: splat(89), where: x .> splat(89))
    x.replace(with: splat(-120), where: x .< splat(-120))
    let t = x * splat(1.44269504088896341) + splat(12582912)  // 1.5 * 2^23: rounds to an integer
    let kf = t - splat(12582912)
    var r = x.addingProduct(kf, splat(-0.693359375))
    r = r.addingProduct(kf, splat(2.12194440e-4))
    if hasLo { r += lo }
    var p = splat(1.9875691500e-4)
    p = splat(1.3981999507e-3).addingProduct(p, r)
    p = splat(8.3334519073e-3).addingProduct(p, r)
    p = splat(4.1665795894e-2).addingProduct(p, r)
    p = splat(1.6666665459e-1).addingProduct(p, r)
    p = splat(5.0000001201e-1).addingProduct(p, r)
    let y = r.addingProduct(p, r * r) + splat(1)
    let k = bits(t) &- VI(repeating: 0x4B40_0000)
    let k1 = k &>> 1, k2 = k &- k1
    return (y, float((k1 &+ 127) &<< 23), float((k2 &+ 127) &<< 23))
}

@_transparent private func expV(_ x: V) -> V {
    let (y, s1, s2) = expParts(x, lo: V(), hasLo: false)
    return y * s1 * s2
}

/// x * sigmoid(s), or sigmoid(s) without x: e = exp(-|s|), x / (1 + e) for s >= 0 and
/// x e / (1 + e) below, with x e rounded once (no overflow, accurate down to the subnormals).
/// x = -inf gives NaN (-inf * 0) where sigmoid(s) is 0, as x * sigmoid(x) does.
@_transparent private func timesSigmoid(_ x: V, _ s: V, hasX: Bool) -> V {
    let (y, s1, s2) = expParts(V() - absolute(s), lo: V(), hasLo: false)
    let e = y * s1 * s2
    var below = e
    if hasX {
        below = y * x * s1 * s2
        below.replace(with: x * e, where: s .<= splat(-120))  // e is 0 there: x * 0, NaN for x = -inf
    }
    return (hasX ? x : splat(1)).replacing(with: below, where: .!(s .>= V())) / (e + splat(1))
}

@_transparent private func sigmoidV(_ x: V) -> V { timesSigmoid(V(), x, hasX: false) }

@_transparent private func swishV(_ x: V) -> V { timesSigmoid(x, x, hasX: true) }

/// Cephes' odd polynomial below |x| = 0.625, else (1 - e) / (1 + e) with e = exp(-2|x|) and the
/// sign of x.
@_transparent private func tanhV(_ x: V) -> V {
    let ax = absolute(x)
    let e = expV(splat(-2) * ax)
    let big = withSign((splat(1) - e) / (splat(1) + e), of: x)
    let z = x * x
    var p = splat(-5.70498872745e-3)
    p = splat(2.06390887954e-2).addingProduct(p, z)
    p = splat(-5.37397155531e-2).addingProduct(p, z)
    p = splat(1.33314422036e-1).addingProduct(p, z)
    p = splat(-3.33332819422e-1).addingProduct(p, z)
    let small = withSign(x.addingProduct(p * z, x), of: x)  // keeps tanh(-0) = -0
    return big.replacing(with: small, where: ax .< splat(0.625))
}

/// erf(t) / t for |t| < 0.5: a degree-5 polynomial in t^2 (minimax, relative error 1e-11).
@_transparent private func erfSmall(_ z: V) -> V {
    var p = splat(-7.692866493016481e-4)
    p = splat(5.2003092132508755e-3).addingProduct(p, z)
    p = splat(-2.686312049627304e-2).addingProduct(p, z)
    p = splat(1.1283773928880692e-1).addingProduct(p, z)
    p = splat(-3.7612637877464294e-1).addingProduct(p, z)
    return splat(1.128379225730896).addingProduct(p, z)
}

/// erfc(a) * exp(a^2) for a in [0.5, 10.5]: a (4, 5) rational with positive coefficients
/// (relative error 1e-9 before rounding).
@_transparent private func erfcScaled(_ a: V) -> V {
    var p = splat(4.4194336980581284e-2)
    p = splat(2.7550995349884033e-1).addingProduct(p, a)
    p = splat(8.22105348110199e-1).addingProduct(p, a)
    p = splat(1.3175264596939087).addingProduct(p, a)
    p = splat(1.0000104904174805).addingProduct(p, a)
    var q = splat(7.833215594291687e-2)
    q = splat(4.883398711681366e-1).addingProduct(q, a)
    q = splat(1.4961013793945312).addingProduct(q, a)
    q = splat(2.5816757678985596).addingProduct(q, a)
    q = splat(2.4460079669952393).addingProduct(q, a)
    q = splat(1).addingProduct(q, a)
    return p / q
}

/// erfc(a) * scale for a = |t| >= 0.5 (t = th + tl, a double-float): exp(-a^2) with a^2 exact as
/// hi + lo (FMA), times the rational, rounded once into the subnormals. a is clamped to 10.5
/// (erfc underflows there).
@_transparent private func erfcTail(_ th: V, _ tl: V, scale: Float) -> V {
    var a = absolute(th)
    let clamped = a .> splat(10.5)
    a.replace(with: splat(10.5), where: clamped)
    var l = tl.replacing(with: V() - tl, where: th .< V())  // the low part of |t|
    l.replace(with: V(), where: clamped)
    let hi = a * a
    let lo = (V() - hi).addingProduct(a, a).addingProduct(splat(2) * a, l)  // a*a - hi + 2 a l
    let (y, s1, s2) = expParts(V() - hi, lo: V() - lo, hasLo: true)
    return y * (erfcScaled(a) * splat(scale)) * s1 * s2
}

@_transparent private func erfV(_ t: V) -> V {
    let a = absolute(t)
    let small = t * erfSmall(t * t)
    let big = withSign(splat(1) - erfcTail(t, V(), scale: 1), of: t)
    return big.replacing(with: small, where: a .< splat(0.5))
}

/// x * Phi(x), Phi(x) = (1 + erf(x / sqrt 2)) / 2 = erfc(-x / sqrt 2) / 2: the erf polynomial
/// for |t| < 0.5, else the erfc tail (accurate for x < 0, no cancellation), with t = x / sqrt 2
/// as a double-float.
@_transparent private func geluV(_ x: V) -> V {
    var xc = x  // Phi is 0 or 1 beyond +-15; x * Phi keeps -inf * 0 = NaN
    xc.replace(with: splat(15), where: xc .> splat(15))
    xc.replace(with: splat(-15), where: xc .< splat(-15))
    let c = splat(0.70710677)
    let th = xc * c
    let tl = (V() - th).addingProduct(xc, c).addingProduct(xc, splat(1.2101617e-8))  // x*c - th + x * (1/sqrt 2 - c)
    let half = erfcTail(th, tl, scale: 0.5)
    let tail = half.replacing(with: splat(1) - half, where: xc .> V())
    let mid = splat(0.5).addingProduct(splat(0.5) * th, erfSmall(th * th))
    let phi = tail.replacing(with: mid, where: absolute(th) .< splat(0.5))
    return x * phi
}

/// 0.5 x (1 + tanh(u)) with u = sqrt(2/pi) (x + 0.044715 x^3), as x * sigmoid(2u) (no
/// cancellation for x < 0); -inf gives NaN as the tanh form does.
@_transparent private func geluTanhV(_ x: V) -> V {
    return timesSigmoid(x, x * splat(1.5957691216057308).addingProduct(splat(0.07135481627260025) * x, x), hasX: true)
}

/// exp over `count` floats from src to dst (may be the same buffer).
{map Exp expV}

/// 1 / (1 + exp(-x)).
{map Sigmoid sigmoidV}

/// x * sigmoid(x) (swish, silu).
{map Swish swishV}

{map Tanh tanhV}

{map Erf erfV}

/// gelu(x) = x * Phi(x) (approximate=False).
{map Gelu geluV}

/// gelu with the tanh approximation (approximate=True).
{map GeluTanh geluTanhV}

@_transparent private func horizontalSum(_ v: V) -> Float {
    var s: Float = 0
    for j in 0..<{lanes} { s += v[j] }
    return s
}

/// The largest of `count` floats, NaN skipped (as Swift.max(m, x) from -inf skips it): the
/// softmax row maximum. -inf for an empty or all-NaN row.
public func {low}RowMax(_ src: UnsafePointer<Float>, _ count: Int) -> Float {
    var m = V(repeating: -.infinity)
    var i = 0
    while i + {lanes} <= count {
        let x = load(src + i)
        m.replace(with: x, where: x .> m)
        i += {lanes}
    }
    if i < count {
        var x = partial(src + i, count - i)
        x.replace(with: -.infinity, where: padding(count - i))
        m.replace(with: x, where: x .> m)
    }
    var r = -Float.infinity
    for j in 0..<{lanes} where m[j] > r { r = m[j] }
    return r
}

/// Sum of exp(src[i] - shift), storing the exponentials in dst unless it is nil (dst may be src).
public func {low}ExpShiftSum(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>?, _ count: Int, _ shift: Float) -> Float {
    let m = V(repeating: shift)
    var s = V()
    var i = 0
    while i < count {
        let rest = count - i, full = rest >= {lanes}
        var e = expV((full ? load(src + i) : partial(src + i, rest)) - m)
        if !full { e.replace(with: 0, where: padding(rest)) }
        if let dst { if full { store(e, dst + i) } else { storePartial(e, dst + i, rest) } }
        s += e
        i += {lanes}
    }
    return horizontalSum(s)
}

/// p[i] /= d (the softmax normalisation).
public func {low}DivideBy(_ p: UnsafeMutablePointer<Float>, _ count: Int, _ d: Float) {
    let v = V(repeating: d)
    var i = 0
    while i + {lanes} <= count {
        store(load(p + i) / v, p + i)
        i += {lanes}
    }
    if i < count { storePartial(partial(p + i, count - i) / v, p + i, count - i) }
}

/// dst[i] = (src[i] - a) - b (log-softmax: x - max - log(sum)).
public func {low}SubtractTwice(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ count: Int, _ a: Float, _ b: Float) {
    let va = V(repeating: a), vb = V(repeating: b)
    var i = 0
    while i + {lanes} <= count {
        store(load(src + i) - va - vb, dst + i)
        i += {lanes}
    }
    if i < count { storePartial(partial(src + i, count - i) - va - vb, dst + i, count - i) }
}

/// Mean and (biased) variance of `count` floats: a vector sum for the mean, then a second pass
/// over the deviations that also corrects the mean (Chan, Golub & LeVeque's corrected two-pass).
public func {low}MeanVariance(_ src: UnsafePointer<Float>, _ count: Int) -> (mean: Float, variance: Float) {
    if count <= 0 { return (0, 0) }
    var s0 = V(), s1 = V()
    var i = 0
    while i + 2 * {lanes} <= count {
        s0 += load(src + i)
        s1 += load(src + i + {lanes})
        i += 2 * {lanes}
    }
    if i + {lanes} <= count {
        s0 += load(src + i)
        i += {lanes}
    }
    if i < count { s1 += partial(src + i, count - i) }
    let n = Float(count)
    let m0 = horizontalSum(s0 + s1) / n
    let mv = V(repeating: m0)
    var d0 = V(), q0 = V(), d1 = V(), q1 = V()
    i = 0
    while i + 2 * {lanes} <= count {
        let a = load(src + i) - mv, b = load(src + i + {lanes}) - mv
        d0 += a
        q0 = q0.addingProduct(a, a)
        d1 += b
        q1 = q1.addingProduct(b, b)
        i += 2 * {lanes}
    }
    if i + {lanes} <= count {
        let a = load(src + i) - mv
        d0 += a
        q0 = q0.addingProduct(a, a)
        i += {lanes}
    }
    if i < count {
        var a = partial(src + i, count - i) - mv
        a.replace(with: 0, where: padding(count - i))
        d1 += a
        q1 = q1.addingProduct(a, a)
    }
    let shift = horizontalSum(d0 + d1) / n
    let v = horizontalSum(q0 + q1) / n - shift * shift
    return (m0 + shift, v < 0 ? 0 : v)
}

/// dst[i] = (src[i] - mean) * scale, times gamma[i] and plus beta[i] when given (LayerNorm).
public func {low}Normalize(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, _ count: Int, _ mean: Float, _ scale: Float,
                           _ gamma: UnsafePointer<Float>?, _ beta: UnsafePointer<Float>?) {
    let m = V(repeating: mean), s = V(repeating: scale)
    var i = 0
    while i < count {
        let rest = count - i, full = rest >= {lanes}
        var v = ((full ? load(src + i) : partial(src + i, rest)) - m) * s
        if let gamma { v *= full ? load(gamma + i) : partial(gamma + i, rest) }
        if let beta { v += full ? load(beta + i) : partial(beta + i, rest) }
        if full { store(v, dst + i) } else { storePartial(v, dst + i, rest) }
        i += {lanes}
    }
}
"""


def main():
    check = "--check" in sys.argv[1:]
    stale = []
    for name, folder, lanes, nv, kc, rows_first_k, tap_kc in TIERS:
        for path, text in ((ROOT / "Sources" / folder / ("Vectors%s.swift" % name), vectors(name, lanes)),
                           (ROOT / "Sources" / folder / ("Gemm%s.swift" % name), module(name, lanes, nv, kc, rows_first_k, tap_kc)),
                           (ROOT / "Sources" / folder / ("Depthwise%s.swift" % name), depthwise(name, lanes)),
                           (ROOT / "Sources" / folder / ("Pool%s.swift" % name), pooling(name, lanes)),
                           (ROOT / "Sources" / folder / ("Winograd%s.swift" % name), winograd(name, lanes)),
                           (ROOT / "Sources" / folder / ("Patches%s.swift" % name), patches(name, lanes)),
                           (ROOT / "Sources" / folder / ("Probe%s.swift" % name), probe(name, lanes)),
                           (ROOT / "Sources" / folder / ("Math%s.swift" % name), math_kernels(name, lanes))):
            if check:
                if not path.is_file() or path.read_text() != text:
                    stale.append(str(path))
            else:
                path.write_text(text)
    if stale:
        print("out of date (run tools/gen_kernels.py):", *stale)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
