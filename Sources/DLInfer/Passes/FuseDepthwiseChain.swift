/// Fuses a depthwise convolution with the 1x1 convolution that alone feeds it (expand) and the
/// one that alone reads it (project), as in MobileNet's inverted residual blocks, when the
/// tensors between them are big enough to leave the cache: run apart, the expanded tensor (4.8 MB
/// in MobileNetV2's block 1) is written to memory and read back, then the depthwise output too;
/// fused, each band of rows is consumed while in L2 (Ops/DepthwiseChainOp.swift). The expand
/// step may also be a few-channel convolution run over kernel rows: MobileNet's 3x3/2 stem,
/// whose 1.6 MB output feeds the first depthwise.
enum FuseDepthwiseChain {
    /// Every size: small tensors stay in cache apart too, but a chain is one op where the three
    /// were three, so two threads meet at one barrier per block instead of three (MobileNetV2 224
    /// at 2 threads, interleaved dlbench mins: 3.27 -> 2.94 ms, chaining only tensors over 1 MB
    /// against all). At one thread it costs nothing since bands move their shared expanded rows
    /// down instead of computing them again (5.16 -> 5.07 ms).
    static let defaultMinimumBytes = 0
    /// Expanded floats per band and thread: 512 KB, a quarter of L2.
    static let defaultBandFloats = 1 << 17

    /// Returns how many chains there are.
    static func run(_ g: inout IRGraph, minimumBytes: Int, bandFloats: Int = defaultBandFloats, regionsPerThread: Int = 1) -> Int {
        var r = Rewriter(moving: &g)
        func bytes(_ v: ValueID) -> Int {
            let s = r.graph.values[v].shape
            guard s.count == 4, s[1...].allSatisfy({ $0 > 0 }) else { return 0 }
            return s[1] * s[2] * s[3] * 4
        }
        // Expand + depthwise, where the expanded tensor is big.
        for i in r.graph.nodes.indices {
            guard case .depthwise(let d) = r.graph.nodes[i].op, fusibleDepthwise(d),
                  let v = r.graph.nodes[i].inputs.first, let pi = r.producer[v], !r.removed[pi], r.onlyReadOnceInternally(v),
                  case .conv(let c) = r.graph.nodes[pi].op, isPointwise(c) || isKernelRows(c, r.graph), !c.epilogue.residual,
                  r.graph.nodes[pi].inputs.count == 1, bytes(v) >= minimumBytes else { continue }
            r.graph.nodes[pi].op = .depthwiseChain(DepthwiseChainParams(expand: c, depthwise: d, project: nil, bandFloats: bandFloats, regionsPerThread: max(1, regionsPerThread)))
            r.graph.nodes[pi].origin += r.graph.nodes[i].origin
            r.remove(i)
            r.setOutputs(pi, r.graph.nodes[i].outputs)
        }
        // + project: after a fused expand always (its input never leaves the cache either), after a
        // lone depthwise when its input or output is big.
        var consumer = [Int?](repeating: nil, count: r.graph.values.count)
        for (i, n) in r.graph.nodes.enumerated() where !r.removed[i] { for v in n.inputs { consumer[v] = i } }
        for i in r.graph.nodes.indices where !r.removed[i] {
            let chain: DepthwiseChainParams
            switch r.graph.nodes[i].op {
            case .depthwiseChain(let p) where p.project == nil: chain = p
            case .depthwise(let d) where fusibleDepthwise(d) && r.graph.nodes[i].inputs.count == 1:
                let n = r.graph.nodes[i]
                guard max(bytes(n.inputs[0]), bytes(n.outputs[0])) >= minimumBytes else { continue }
                chain = DepthwiseChainParams(expand: nil, depthwise: d, project: nil, bandFloats: bandFloats, regionsPerThread: max(1, regionsPerThread))
            default: continue
            }
            let v = r.graph.nodes[i].outputs[0]
            guard r.onlyReadOnceInternally(v), let ci = consumer[v], !r.removed[ci], r.graph.nodes[ci].inputs.first == v,
                  case .conv(let c) = r.graph.nodes[ci].op, isPointwise(c) else { continue }
            // A residual must exist when the chain runs (at the depthwise's place).
            if c.epilogue.residual {
                let res = r.graph.nodes[ci].inputs[1]
                guard res != v else { continue }
                if let pr = r.producer[res], pr >= i { continue }
            }
            var fused = chain
            fused.project = c
            r.graph.nodes[i].op = .depthwiseChain(fused)
            r.graph.nodes[i].origin += r.graph.nodes[ci].origin
            if c.epilogue.residual { r.addInput(i, r.graph.nodes[ci].inputs[1]) }
            r.remove(ci)
            r.setOutputs(i, r.graph.nodes[ci].outputs)
        }
        g = r.finish()
        return g.nodes.filter { if case .depthwiseChain = $0.op { return true } else { return false } }.count
    }

    private static func fusibleDepthwise(_ d: DepthwiseParams) -> Bool {
        d.multiplier == 1 && d.window.rank == 2 && !d.epilogue.residual
    }

    private static func isPointwise(_ c: ConvParams) -> Bool { c.window.rank == 2 && c.isPointwise }

    private static func isKernelRows(_ c: ConvParams, _ g: IRGraph) -> Bool {
        c.window.rank == 2 && c.runsOverKernelRows(inputChannels: g.constantShapes[c.weights][2])
    }
}
