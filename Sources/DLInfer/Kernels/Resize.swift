/// Bilinear resize of one image [H, W, C] -> [OH, OW, C] with half-pixel centers and no
/// antialiasing: tf.image.resize(method="bilinear", antialias=False).
func resizeBilinear(_ input: UnsafePointer<Float>, height: Int, width: Int, channels: Int,
                    outHeight: Int, outWidth: Int, out: UnsafeMutablePointer<Float>) {
    struct Tap { let lo: Int; let hi: Int; let frac: Float }
    func taps(_ inSize: Int, _ outSize: Int) -> [Tap] {
        let scale = Float(inSize) / Float(outSize)
        return (0..<outSize).map { o in
            let x = (Float(o) + 0.5) * scale - 0.5
            let f = x.rounded(.down)
            return Tap(lo: max(Int(f), 0), hi: min(Int(x.rounded(.up)), inSize - 1), frac: x - f)
        }
    }
    let ys = taps(height, outHeight), xs = taps(width, outWidth)
    for (oy, ty) in ys.enumerated() {
        let top = input + ty.lo * width * channels, bottom = input + ty.hi * width * channels
        for (ox, tx) in xs.enumerated() {
            let dst = out + (oy * outWidth + ox) * channels
            for c in 0..<channels {
                let tl = top[tx.lo * channels + c], tr = top[tx.hi * channels + c]
                let bl = bottom[tx.lo * channels + c], br = bottom[tx.hi * channels + c]
                let t = tl + (tr - tl) * tx.frac
                let b = bl + (br - bl) * tx.frac
                dst[c] = t + (b - t) * ty.frac
            }
        }
    }
}
