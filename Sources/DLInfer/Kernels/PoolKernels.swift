import CDLInferCPU



/// Max or average pooling of one image [H, W, C] -> [OH, OW, C]. Average pooling divides by
/// the number of in-bounds taps (TensorFlow's SAME semantics: padding is not counted).
func pool2d(_ input: UnsafePointer<Float>, channels: Int, h: AxisGeometry, w: AxisGeometry,
            kind: PoolKind, out: UnsafeMutablePointer<Float>) {
    for oy in 0..<h.output {
        let y0 = oy * h.stride - h.padBefore
        let ys = max(y0, 0), ye = min(y0 + h.kernel, h.input)
        for ox in 0..<w.output {
            let x0 = ox * w.stride - w.padBefore
            let xs = max(x0, 0), xe = min(x0 + w.kernel, w.input)
            let dst = out + (oy * w.output + ox) * channels
            switch kind {
            case .max:
                dst.update(repeating: -.infinity, count: channels)
                for iy in ys..<max(ye, ys) {
                    for ix in xs..<max(xe, xs) {
                        let src = input + (iy * w.input + ix) * channels
                        for c in 0..<channels {
                            let v = src[c]
                            if v > dst[c] || v.isNaN { dst[c] = v }
                        }
                    }
                }
            case .average:
                dst.update(repeating: 0, count: channels)
                for iy in ys..<max(ye, ys) {
                    for ix in xs..<max(xe, xs) {
                        let src = input + (iy * w.input + ix) * channels
                        for c in 0..<channels { dst[c] += src[c] }
                    }
                }
                let n = Float(max((ye - ys) * (xe - xs), 1))
                for c in 0..<channels { dst[c] /= n }
            }
        }
    }
}

/// The portable tier's pooling over output rows [rowBegin, rowEnd): `pool2d`'s arithmetic.
func scalarPool(_ d: UnsafePointer<dl_pool>, _ rowBegin: Int, _ rowEnd: Int) {
    let p = d.pointee
    let c = Int(p.c), w = Int(p.w), h = Int(p.h), ow = Int(p.ow)
    for oy in rowBegin..<rowEnd {
        let y0 = oy * Int(p.sh) - Int(p.pad_top)
        let ys = max(y0, 0), ye = min(y0 + Int(p.kh), h)
        for ox in 0..<ow {
            let x0 = ox * Int(p.sw) - Int(p.pad_left)
            let xs = max(x0, 0), xe = min(x0 + Int(p.kw), w)
            let dst = p.output + (oy * ow + ox) * c
            dst.update(repeating: p.is_max != 0 ? -.infinity : 0, count: c)
            for iy in ys..<max(ye, ys) {
                for ix in xs..<max(xe, xs) {
                    let src = p.input + (iy * w + ix) * c
                    if p.is_max != 0 {
                        for ch in 0..<c where src[ch] > dst[ch] || src[ch].isNaN { dst[ch] = src[ch] }
                    } else {
                        for ch in 0..<c { dst[ch] += src[ch] }
                    }
                }
            }
            if p.is_max == 0 {
                let n = Float(max((ye - ys) * (xe - xs), 1))
                for ch in 0..<c { dst[ch] /= n }
            }
        }
    }
}
