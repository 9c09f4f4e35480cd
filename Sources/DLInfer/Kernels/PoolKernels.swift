

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
