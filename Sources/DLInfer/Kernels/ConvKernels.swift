import CDLInferCPU

/// Geometry of one spatial axis of a convolution or pooling window.
struct AxisGeometry {
    let input: Int
    let kernel: Int
    let stride: Int
    let dilation: Int
    let padBefore: Int
    let output: Int

    var effectiveKernel: Int { (kernel - 1) * dilation + 1 }

    /// TensorFlow's VALID/SAME (and Keras' causal) conventions, or explicit padding amounts.
    /// `input` may be -1 (unknown).
    static func make(input: Int, kernel: Int, stride: Int, dilation: Int, padding: PaddingSpec,
                     explicit: (Int, Int) = (0, 0)) -> AxisGeometry {
        let eff = (kernel - 1) * dilation + 1
        guard input >= 0 else {
            return AxisGeometry(input: -1, kernel: kernel, stride: stride, dilation: dilation, padBefore: 0, output: -1)
        }
        switch padding {
        case .valid:
            let out = input >= eff ? (input - eff) / stride + 1 : 0
            return AxisGeometry(input: input, kernel: kernel, stride: stride, dilation: dilation, padBefore: 0, output: out)
        case .explicit:
            let padded = input + explicit.0 + explicit.1
            let out = padded >= eff ? (padded - eff) / stride + 1 : 0
            return AxisGeometry(input: input, kernel: kernel, stride: stride, dilation: dilation, padBefore: explicit.0, output: out)
        case .same:
            let out = (input + stride - 1) / stride
            let total = max((out - 1) * stride + eff - input, 0)
            return AxisGeometry(input: input, kernel: kernel, stride: stride, dilation: dilation, padBefore: total / 2, output: out)
        case .causal:
            let out = (input + stride - 1) / stride
            return AxisGeometry(input: input, kernel: kernel, stride: stride, dilation: dilation, padBefore: eff - 1, output: out)
        }
    }
}

/// The padding option of Keras convolution and pooling configs.
enum Padding: String {
    case valid, same, causal

    var spec: PaddingSpec {
        switch self {
        case .valid: return .valid
        case .same: return .same
        case .causal: return .causal
        }
    }
}

/// Gathers the receptive fields of one image ([H, W, C] at `input`) for channels
/// [c0, c0+cg) into rows of `cols` ([OH*OW, KH*KW*cg]); padded taps read zero. `pixels` limits
/// it to some output pixels (rows of `cols`).
func im2col(_ input: UnsafePointer<Float>, channels: Int, c0: Int, cg: Int,
            h: AxisGeometry, w: AxisGeometry, cols: UnsafeMutablePointer<Float>, pixels: Range<Int>? = nil) {
    let rowLen = h.kernel * w.kernel * cg
    // Without dilation or groups, the taps of one kernel row inside the image are one contiguous run.
    let runs = w.dilation == 1 && cg == channels
    for pixel in pixels ?? 0..<(h.output * w.output) {
        let oy = pixel / w.output, ox = pixel % w.output
        var dst = cols + pixel * rowLen
        let x0 = ox * w.stride - w.padBefore
        let rowInside = runs && x0 >= 0 && x0 + w.kernel <= w.input
        for ky in 0..<h.kernel {
            let iy = oy * h.stride - h.padBefore + ky * h.dilation
            if iy < 0 || iy >= h.input {
                dst.update(repeating: 0, count: w.kernel * cg)
                dst += w.kernel * cg
                continue
            }
            let row = input + iy * w.input * channels + c0
            if rowInside {
                copyFloats(dst, row + x0 * channels, w.kernel * cg)
                dst += w.kernel * cg
                continue
            }
            for kx in 0..<w.kernel {
                let ix = x0 + kx * w.dilation
                if ix < 0 || ix >= w.input {
                    dst.update(repeating: 0, count: cg)
                } else {
                    copyFloats(dst, row + ix * channels, cg)
                }
                dst += cg
            }
        }
    }
}

/// Fills table[pixel * taps + tap] for `pixels` of one image ([H, W, C] at `input`): the address
/// of the C channels under each tap (row-major taps, as the kernel's weights), or `zeros` (at
/// least C zeros) where the tap falls in the padding.
func indirectionTable(_ input: UnsafePointer<Float>, channels: Int, zeros: UnsafePointer<Float>, h: AxisGeometry, w: AxisGeometry,
                      table: UnsafeMutablePointer<UnsafePointer<Float>>, pixels: Range<Int>) {
    let taps = h.kernel * w.kernel
    guard !pixels.isEmpty else { return }
    var oy = pixels.lowerBound / w.output, ox = pixels.lowerBound % w.output
    for pixel in pixels {
        defer {
            ox += 1
            if ox == w.output { ox = 0; oy += 1 }
        }
        var t = table + pixel * taps
        for ky in 0..<h.kernel {
            let iy = oy * h.stride - h.padBefore + ky * h.dilation
            for kx in 0..<w.kernel {
                let ix = ox * w.stride - w.padBefore + kx * w.dilation
                t.pointee = iy < 0 || iy >= h.input || ix < 0 || ix >= w.input ? zeros : input + (iy * w.input + ix) * channels
                t += 1
            }
        }
    }
}

/// The indirect GEMM's table for a 1x1 conv summed with a 1x1 shortcut (ConvParams.shortcut):
/// per output pixel, `channels / tapChannels` taps into the conv's input pixel, then
/// `shortcutChannels / tapChannels` into the shortcut input's pixel (oy * strides.0, ox * strides.1).
func shortcutTable(_ input: UnsafePointer<Float>, channels: Int, _ shortcut: UnsafePointer<Float>, shortcutChannels: Int,
                   shortcutWidth: Int, strides: (Int, Int), tapChannels: Int, outputWidth: Int,
                   table: UnsafeMutablePointer<UnsafePointer<Float>>, pixels: Range<Int>) {
    let own = channels / tapChannels, taps = own + shortcutChannels / tapChannels
    for pixel in pixels {
        let oy = pixel / outputWidth, ox = pixel % outputWidth
        let a = input + pixel * channels
        let b = shortcut + (oy * strides.0 * shortcutWidth + ox * strides.1) * shortcutChannels
        let t = table + pixel * taps
        for i in 0..<own { t[i] = a + i * tapChannels }
        for i in own..<taps { t[i] = b + (i - own) * tapChannels }
    }
}

/// The output columns of a convolution axis whose whole kernel row lies inside the input
/// (`interior`), and how many lie partly in the padding (`edges`, before and after it).
struct KernelRowSpan {
    let interior: Range<Int>
    let edges: Int

    init(_ w: AxisGeometry) {
        let lo = min((w.padBefore + w.stride - 1) / w.stride, w.output)
        let last = w.input - w.effectiveKernel + w.padBefore   // the last in-bounds start, padded coordinates
        let hi = last >= 0 ? min(last / w.stride + 1, w.output) : 0
        interior = lo..<max(lo, hi)
        edges = w.output - interior.count
    }

    /// The slot of an edge column among the edges (those before the interior first).
    func edgeIndex(_ ox: Int) -> Int { ox < interior.lowerBound ? ox : ox - interior.count }
}

/// Fills table[pixel * kh + ky] for `pixels` of one image ([H, W, C] at `input`) for a
/// convolution without horizontal dilation, whose kernel row ky under a pixel is one run of
/// kw * C floats in NHWC: the run's address in the input; `zeros` (kw * C zeros) for a row in the
/// vertical padding; or, for a column at the edge, a slot of `patches` (OH * span.edges * kh runs)
/// filled with the run and zeros where it reaches into the padding. With `originRow` r, table
/// and patches hold output rows from r on (pixel index and patch row counted from row r): a band
/// of a bigger output, as a depthwise chain computes it. `edgesOnly`: the rest of the table is in
/// place from an earlier call for the same input address; only the patches are filled again.
@inline(never)  // its own registers: inlined into the op's closure, its loop counters lived on the stack
func kernelRowTable(_ input: UnsafePointer<Float>, channels: Int, zeros: UnsafePointer<Float>, h: AxisGeometry, w: AxisGeometry,
                    span: KernelRowSpan, table: UnsafeMutablePointer<UnsafePointer<Float>>, patches: UnsafeMutablePointer<Float>,
                    pixels: Range<Int>, originRow: Int = 0, edgesOnly: Bool = false) {
    guard !pixels.isEmpty else { return }
    // Sizes were checked when the op was planned; the loops run per table entry, so they use
    // wrapping arithmetic and walk the output row by row (no division per pixel).
    let run = w.kernel &* channels, rowFloats = w.input &* channels, step = w.stride &* channels, kh = h.kernel
    let lo = span.interior.lowerBound, hi = span.interior.upperBound
    var oy = pixels.lowerBound / w.output
    var first = pixels.lowerBound &- oy &* w.output   // the first column of this row in range
    var pixel = pixels.lowerBound
    while pixel < pixels.upperBound {
        let end = min(w.output, first &+ (pixels.upperBound &- pixel))   // one past the last column in range
        let base = table + (pixel &- first &- originRow &* w.output) &* kh   // the table row of column 0
        for ky in 0..<kh {
            let iy = oy &* h.stride &- h.padBefore &+ ky &* h.dilation
            if iy < 0 || iy >= h.input {
                if !edgesOnly { for x in first..<end { base[x &* kh &+ ky] = zeros } }
                continue
            }
            let row = input + iy &* rowFloats
            let padFloats = w.padBefore &* channels
            if !edgesOnly {
                for x in max(first, lo)..<max(max(first, lo), min(end, hi)) {
                    base[x &* kh &+ ky] = row + (x &* step &- padFloats)
                }
            }
            // The edge columns before the interior, then those after it (a loop over every column
            // with a `where` clause cost as much as filling the table).
            for side in 0..<2 {
                let columns = side == 0 ? first..<max(first, min(end, lo)) : max(first, hi)..<max(first, hi, end)
                for x in columns {
                    let slot = patches + (((oy &- originRow) &* span.edges &+ span.edgeIndex(x)) &* kh &+ ky) &* run
                    let x0 = x &* w.stride &- w.padBefore
                    // The taps inside the image are one run of input: zeros, one copy, zeros
                    // (per tap, a few-channel stem's patches cost more than its whole table).
                    let inFirst = min(w.kernel, max(0, 0 &- x0)), inEnd = max(inFirst, min(w.kernel, w.input &- x0))
                    slot.update(repeating: 0, count: inFirst &* channels)
                    copyFloats(slot + inFirst &* channels, row + (x0 &+ inFirst) &* channels, (inEnd &- inFirst) &* channels)
                    (slot + inEnd &* channels).update(repeating: 0, count: run &- inEnd &* channels)
                    base[x &* kh &+ ky] = UnsafePointer(slot)
                }
            }
        }
        pixel &+= end &- first
        oy &+= 1
        first = 0
    }
}

/// The portable tier's im2col (the kernel table's form of `im2col`).
func scalarIm2col(_ x: UnsafePointer<Float>, _ h: Int, _ w: Int, _ c: Int, _ c0: Int, _ cg: Int,
                  _ kh: Int, _ kw: Int, _ sh: Int, _ sw: Int, _ dh: Int, _ dw: Int, _ padTop: Int, _ padLeft: Int,
                  _ ow: Int, _ cols: UnsafeMutablePointer<Float>, _ pixelBegin: Int, _ pixelEnd: Int) {
    let oh = pixelEnd > 0 ? (pixelEnd - 1) / ow + 1 : 0
    let gh = AxisGeometry(input: h, kernel: kh, stride: sh, dilation: dh, padBefore: padTop, output: oh)
    let gw = AxisGeometry(input: w, kernel: kw, stride: sw, dilation: dw, padBefore: padLeft, output: ow)
    im2col(x, channels: c, c0: c0, cg: cg, h: gh, w: gw, cols: cols, pixels: pixelBegin..<pixelEnd)
}

/// A copy that does not call memmove for the few floats of a small-channel tap.
@inline(__always)
private func copyFloats(_ dst: UnsafeMutablePointer<Float>, _ src: UnsafePointer<Float>, _ count: Int) {
    if count > 32 {
        dst.update(from: src, count: count)
    } else {
        for i in 0..<count { dst[i] = src[i] }
    }
}

/// Depthwise convolution of one image: out[oy, ox, c*mult + m] = sum_taps in[iy, ix, c] * k[ky, kx, c, m].
func depthwiseConv(_ input: UnsafePointer<Float>, channels: Int, multiplier: Int,
                   h: AxisGeometry, w: AxisGeometry, kernel: UnsafePointer<Float>,
                   out: UnsafeMutablePointer<Float>) {
    let outC = channels * multiplier
    for oy in 0..<h.output {
        for ox in 0..<w.output {
            let dst = out + (oy * w.output + ox) * outC
            dst.update(repeating: 0, count: outC)
            for ky in 0..<h.kernel {
                let iy = oy * h.stride - h.padBefore + ky * h.dilation
                if iy < 0 || iy >= h.input { continue }
                for kx in 0..<w.kernel {
                    let ix = ox * w.stride - w.padBefore + kx * w.dilation
                    if ix < 0 || ix >= w.input { continue }
                    let src = input + (iy * w.input + ix) * channels
                    let k = kernel + (ky * w.kernel + kx) * outC
                    if multiplier == 1 {
                        for c in 0..<channels { dst[c] += src[c] * k[c] }
                    } else {
                        for c in 0..<channels {
                            let v = src[c]
                            for m in 0..<multiplier { dst[c * multiplier + m] += v * k[c * multiplier + m] }
                        }
                    }
                }
            }
        }
    }
}

extension dl_dwconv {
    /// One image's depthwise convolution (multiplier 1) for the kernels: the window's geometry
    /// over an h x w x c input.
    init(input: UnsafePointer<Float>, weights: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>, c: Int,
         window: Window, h: AxisGeometry, w: AxisGeometry) {
        self.init(input: input, weights: weights, output: output, h: Int64(h.input), w: Int64(w.input), c: Int64(c),
                  oh: Int64(h.output), ow: Int64(w.output), kh: Int64(window.kh), kw: Int64(window.kw),
                  sh: Int64(window.sh), sw: Int64(window.sw), dh: Int64(window.dh), dw: Int64(window.dw),
                  pad_top: Int64(h.padBefore), pad_left: Int64(w.padBefore))
    }
}

/// The portable tier's depthwise convolution (multiplier 1): the reference loop plus the
/// epilogue, over output rows [rowBegin, rowEnd).
func scalarDepthwise(_ d: UnsafePointer<dl_dwconv>, _ epilogue: UnsafePointer<dl_epilogue>, _ rowBegin: Int, _ rowEnd: Int) {
    let p = d.pointee, e = epilogue.pointee
    let c = Int(p.c), ow = Int(p.ow)
    for oy in rowBegin..<rowEnd {
        for ox in 0..<ow {
            let pixel = oy * ow + ox
            let out = p.output + pixel * c
            out.update(repeating: 0, count: c)
            for ky in 0..<Int(p.kh) {
                let iy = oy * Int(p.sh) - Int(p.pad_top) + ky * Int(p.dh)
                if iy < 0 || iy >= Int(p.h) { continue }
                for kx in 0..<Int(p.kw) {
                    let ix = ox * Int(p.sw) - Int(p.pad_left) + kx * Int(p.dw)
                    if ix < 0 || ix >= Int(p.w) { continue }
                    let src = p.input + (iy * Int(p.w) + ix) * c, k = p.weights + (ky * Int(p.kw) + kx) * c
                    for ch in 0..<c { out[ch] += src[ch] * k[ch] }
                }
            }
            for ch in 0..<c { out[ch] = e.finish(out[ch], row: pixel, col: ch) }
        }
    }
}
