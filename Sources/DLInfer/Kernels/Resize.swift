/// Bilinear resize of one image [H, W, C] -> [OH, OW, C] with half-pixel centers and no
/// antialiasing: tf.image.resize(method="bilinear", antialias=False).
func resizeBilinear(_ input: UnsafePointer<Float>, height: Int, width: Int, channels: Int,
                    outHeight: Int, outWidth: Int, out: UnsafeMutablePointer<Float>) {
    @inline(__always) func tap(_ o: Int, _ inSize: Int, _ outSize: Int) -> (lo: Int, hi: Int, frac: Float) {
        let x = (Float(o) + 0.5) * (Float(inSize) / Float(outSize)) - 0.5
        let f = x.rounded(.down)
        return (max(Int(f), 0), min(Int(x.rounded(.up)), inSize - 1), x - f)
    }
    for oy in 0..<outHeight {
        let ty = tap(oy, height, outHeight)
        let top = input + ty.lo * width * channels, bottom = input + ty.hi * width * channels
        for ox in 0..<outWidth {
            let tx = tap(ox, width, outWidth)
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
