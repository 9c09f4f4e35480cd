/// Fuses a 1x1 convolution with the depthwise convolution that alone reads its output (the
/// expand and depthwise steps of MobileNet's inverted residual blocks) when that output is big
/// enough to leave the cache: run apart, the expanded tensor (4.8 MB in MobileNetV2's block 1)
/// is written to memory and read back; fused, each band of rows is consumed while in L2.
enum FusePointwiseDepthwise {
    /// Half the L2 of these machines (2 MB): smaller expanded tensors stay in cache anyway, and the
    /// bands' recomputed overlap rows would cost more than they save.
    static let defaultMinimumBytes = 1 << 20
    /// Expanded floats per band and thread: 512 KB, a quarter of L2.
    static let defaultBandFloats = 1 << 17

    static func run(_ g: inout IRGraph, minimumBytes: Int, bandFloats: Int = defaultBandFloats) -> Int {
        var r = Rewriter(moving: &g)
        var count = 0
        for i in r.graph.nodes.indices {
            guard case .depthwise(let d) = r.graph.nodes[i].op, d.multiplier == 1, d.window.rank == 2, !d.epilogue.residual,
                  let v = r.graph.nodes[i].inputs.first, let pi = r.producer[v], !r.removed[pi], r.onlyReadOnceInternally(v),
                  case .conv(let c) = r.graph.nodes[pi].op, isPointwise(c), r.graph.nodes[pi].inputs.count == 1 else { continue }
            let shape = r.graph.values[v].shape
            guard shape.count == 4, shape[1...].allSatisfy({ $0 > 0 }), shape[1] * shape[2] * shape[3] * 4 >= minimumBytes else { continue }
            r.graph.nodes[pi].op = .pointwiseDepthwise(PointwiseDepthwiseParams(pointwise: c, depthwise: d, bandFloats: bandFloats))
            r.graph.nodes[pi].origin += r.graph.nodes[i].origin
            r.remove(i)
            r.setOutputs(pi, r.graph.nodes[i].outputs)
            count += 1
        }
        g = r.finish()
        return count
    }

    private static func isPointwise(_ c: ConvParams) -> Bool {
        let w = c.window
        guard w.rank == 2, w.kh == 1, w.kw == 1, w.sh == 1, w.sw == 1, c.groups == 1, !c.epilogue.residual else { return false }
        switch w.padding {
        case .valid, .same, .explicit(top: 0, bottom: 0, left: 0, right: 0): return true
        default: return false
        }
    }
}
