/// Moves work into the store of the conv/depthwise/dense op that produces a value: a residual
/// Add whose other operand is already computed when that op runs, then an elementwise
/// activation. Bias is already part of those ops.
enum FuseEpilogue {
    private static func fusible(_ op: Op) -> Bool {
        switch op {
        case .conv, .depthwise, .dense: return true
        default: return false
        }
    }

    /// Fuses `conv(...) + r` into the conv; returns how many.
    static func fuseResiduals(_ g: inout IRGraph) -> Int {
        var r = Rewriter(moving: &g)
        var count = 0
        for i in r.graph.nodes.indices {
            guard case .binary(.add) = r.graph.nodes[i].op else { continue }
            let ins = r.graph.nodes[i].inputs
            guard ins.count == 2, ins[0] != ins[1] else { continue }
            for (mine, other) in [(ins[0], ins[1]), (ins[1], ins[0])] {
                guard let pi = r.producer[mine], !r.removed[pi], fusible(r.graph.nodes[pi].op), r.onlyReadOnceInternally(mine),
                      let e = r.graph.nodes[pi].op.epilogue, e.activation == .linear, !e.residual,
                      r.graph.values[other].constant == nil else { continue }
                let out = r.graph.values[r.graph.nodes[i].outputs[0]].shape
                guard r.graph.values[mine].shape == out, r.graph.values[other].shape == out else { continue }
                // The residual must exist when the producer runs.
                if let po = r.producer[other], po >= pi { continue }
                var ne = e
                ne.residual = true
                r.graph.nodes[pi].op = r.graph.nodes[pi].op.with(epilogue: ne)
                r.graph.nodes[pi].origin += r.graph.nodes[i].origin
                r.addInput(pi, other)
                r.remove(i)
                r.setOutputs(pi, r.graph.nodes[i].outputs)
                count += 1
                break
            }
        }
        g = r.finish()
        return count
    }

    /// Fuses an elementwise activation into its producer; returns how many.
    static func fuseActivations(_ g: inout IRGraph) -> Int {
        var r = Rewriter(moving: &g)
        var count = 0
        for i in r.graph.nodes.indices {
            guard case .unary(let act) = r.graph.nodes[i].op, let v = r.graph.nodes[i].inputs.first,
                  let pi = r.producer[v], !r.removed[pi], r.onlyReadOnceInternally(v) else { continue }
            let op = r.graph.nodes[pi].op
            switch op {
            case .conv, .depthwise, .dense, .transposedConv: break
            default: continue
            }
            guard var e = op.epilogue, e.activation == .linear else { continue }
            e.activation = act
            r.graph.nodes[pi].op = op.with(epilogue: e)
            r.graph.nodes[pi].origin += r.graph.nodes[i].origin
            r.remove(i)
            r.setOutputs(pi, r.graph.nodes[i].outputs)
            count += 1
        }
        g = r.finish()
        return count
    }
}
