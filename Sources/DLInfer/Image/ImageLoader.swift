import CJPEG

/// Keras image preprocessing modes (imagenet_utils.preprocess_input), plus raw and 0..1.
public enum ImagePreprocess: Int32 {
    case raw = 0, unit, tf, caffe, torch
}

/// JPEG -> float HWC tensor, the way TensorFlow's pipeline produces it:
/// decode_jpeg (integer-fast DCT) -> resize bilinear (half-pixel, no antialias) -> preprocessing.
public enum ImageLoader {
    /// Largest image decoded, in pixels (source or target): 100 megapixels. A JPEG's header alone
    /// sets how much memory and time decoding takes, so it is checked before decoding.
    /// libjpeg's scaled decoding (scale_num/scale_denom) is not used: it changes pixels against
    /// TensorFlow's decode-then-resize, which the pipeline matches exactly.
    public static let maxPixels = 100_000_000

    public static func load(path: String, height: Int, width: Int, channels: Int, mode: ImagePreprocess) throws -> [Float] {
        let bytes = try readWholeFile(path)
        return try withContext(path) { try decode(bytes, height: height, width: width, channels: channels, mode: mode) }
    }

    public static func decode(_ bytes: [UInt8], height: Int, width: Int, channels: Int, mode: ImagePreprocess) throws -> [Float] {
        try bytes.withUnsafeBufferPointer { try decode($0, height: height, width: width, channels: channels, mode: mode) }
    }

    /// Same, from bytes the caller owns (read in place, not copied).
    public static func decode(_ bytes: UnsafeBufferPointer<UInt8>, height: Int, width: Int, channels: Int,
                              mode: ImagePreprocess) throws -> [Float] {
        guard channels == 1 || channels == 3 else { throw DLError(.invalidArgument, "channels must be 1 or 3, got \(channels)") }
        guard height > 0, width > 0, height <= 1 << 15, width <= 1 << 15, height * width <= maxPixels else {
            throw DLError(.invalidArgument, "target size \(height)x\(width) is out of range (at most \(maxPixels / 1_000_000) megapixels)")
        }
        if (mode == .caffe || mode == .torch) && channels != 3 {
            throw DLError(.invalidArgument, "preprocessing mode \(mode) needs 3 channels")
        }
        var pixels: UnsafeMutablePointer<UInt8>?
        var w: Int32 = 0, h: Int32 = 0
        var err = [CChar](repeating: 0, count: 256)
        let rc = dl_jpeg_decode(bytes.baseAddress, bytes.count, Int32(channels), maxPixels, &pixels, &w, &h, &err, err.count)
        guard rc == 0, let pixels else { throw DLError(rc == 2 ? .unsupported : .format, String(cString: err)) }
        defer { dl_jpeg_free(pixels) }
        let srcH = Int(h), srcW = Int(w)
        let source = (0..<(srcH * srcW * channels)).map { Float(pixels[$0]) }
        var out = [Float](repeating: 0, count: height * width * channels)
        if srcH == height && srcW == width {
            out = source
        } else {
            source.withUnsafeBufferPointer { s in
                out.withUnsafeMutableBufferPointer { o in
                    resizeBilinear(s.baseAddress!, height: srcH, width: srcW, channels: channels,
                                   outHeight: height, outWidth: width, out: o.baseAddress!)
                }
            }
        }
        preprocess(&out, channels: channels, mode: mode)
        return out
    }

    static func preprocess(_ x: inout [Float], channels: Int, mode: ImagePreprocess) {
        switch mode {
        case .raw:
            break
        case .unit:
            for i in x.indices { x[i] /= 255 }
        case .tf:
            for i in x.indices { x[i] = x[i] / 127.5 - 1 }
        case .caffe:
            let meanBGR: [Float] = [103.939, 116.779, 123.68]
            for p in stride(from: 0, to: x.count, by: 3) {
                let r = x[p], b = x[p + 2]
                x[p] = b - meanBGR[0]
                x[p + 1] -= meanBGR[1]
                x[p + 2] = r - meanBGR[2]
            }
        case .torch:
            let mean: [Float] = [0.485, 0.456, 0.406], std: [Float] = [0.229, 0.224, 0.225]
            for p in stride(from: 0, to: x.count, by: 3) {
                for c in 0..<3 { x[p + c] = (x[p + c] / 255 - mean[c]) / std[c] }
            }
        }
    }
}
