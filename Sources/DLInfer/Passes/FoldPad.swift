/// Folds a ZeroPadding into the padding of the convolution or depthwise convolution that reads
/// it (when that one pads VALID or explicitly): one op, no padded copy.
enum FoldPad {
    static func run(_ g: inout IRGraph) -> Int {
        var r = Rewriter(moving: &g)
        var count = 0
        var consumer = [Int?](repeating: nil, count: r.graph.values.count)
        for (i, n) in r.graph.nodes.enumerated() { for v in n.inputs { consumer[v] = i } }
        for i in r.graph.nodes.indices {
            guard case .spatial(let sp) = r.graph.nodes[i].op, case .pad(let t, let b, let l, let rr) = sp.kind else { continue }
            let v = r.graph.nodes[i].outputs[0]
            guard r.onlyReadOnceInternally(v), let ci = consumer[v], r.graph.nodes[ci].inputs.first == v else { continue }
            var window: Window
            switch r.graph.nodes[ci].op {
            case .conv(let p): window = p.window
            case .depthwise(let p): window = p.window
            default: continue
            }
            guard window.rank == sp.rank else { continue }
            switch window.padding {
            case .valid: window.padding = .explicit(top: t, bottom: b, left: l, right: rr)
            case .explicit(let t0, let b0, let l0, let r0): window.padding = .explicit(top: t0 + t, bottom: b0 + b, left: l0 + l, right: r0 + rr)
            default: continue
            }
            switch r.graph.nodes[ci].op {
            case .conv(var p): p.window = window; r.graph.nodes[ci].op = .conv(p)
            case .depthwise(var p): p.window = window; r.graph.nodes[ci].op = .depthwise(p)
            default: continue
            }
            r.graph.nodes[ci].origin = r.graph.nodes[i].origin + r.graph.nodes[ci].origin
            r.replaceInput(ci, at: 0, with: r.graph.nodes[i].inputs[0])
            r.remove(i)
            count += 1
        }
        g = r.finish()
        return count
    }

    /// Folds a ZeroPadding into the max pooling that reads it when the zeros cannot change a
    /// result: the padded tensor comes out of a ReLU (every value >= 0, or NaN, which wins either
    /// way), and each pad is smaller than the window, so every window still covers an input cell.
    /// ResNet's stem is conv, ReLU, ZeroPadding 1, MaxPool 3x3/2. Runs after the activations are
    /// fused, so it sees the ReLU in the producer's epilogue.
    static func intoMaxPool(_ g: inout IRGraph) -> Int {
        var r = Rewriter(moving: &g)
        var count = 0
        var consumer = [Int?](repeating: nil, count: r.graph.values.count)
        for (i, n) in r.graph.nodes.enumerated() { for v in n.inputs { consumer[v] = i } }
        for i in r.graph.nodes.indices where !r.removed[i] {
            guard case .spatial(let sp) = r.graph.nodes[i].op, case .pad(let t, let b, let l, let rr) = sp.kind else { continue }
            let x = r.graph.nodes[i].inputs[0], v = r.graph.nodes[i].outputs[0]
            guard let pi = r.producer[x], !r.removed[pi], let act = r.graph.nodes[pi].op.epilogue?.activation ?? unaryActivation(r.graph.nodes[pi].op),
                  isNonNegative(act) else { continue }
            guard r.onlyReadOnceInternally(v), let ci = consumer[v], r.graph.nodes[ci].inputs.first == v,
                  case .pool(var pool) = r.graph.nodes[ci].op, pool.kind == .max, pool.window.rank == sp.rank,
                  t < pool.window.kh, b < pool.window.kh, l < pool.window.kw, rr < pool.window.kw else { continue }
            switch pool.window.padding {
            case .valid: pool.window.padding = .explicit(top: t, bottom: b, left: l, right: rr)
            default: continue
            }
            r.graph.nodes[ci].op = .pool(pool)
            r.graph.nodes[ci].origin = r.graph.nodes[i].origin + r.graph.nodes[ci].origin
            r.replaceInput(ci, at: 0, with: x)
            r.remove(i)
            count += 1
        }
        g = r.finish()
        return count
    }

    private static func unaryActivation(_ op: Op) -> Activation? {
        if case .unary(let a) = op { return a }
        return nil
    }

    /// Activations whose every output is >= 0 (or NaN).
    private static func isNonNegative(_ a: Activation) -> Bool {
        switch a {
        case .relu, .relu6: return true
        case .reluGeneral(let m, let slope, let threshold): return slope == 0 && threshold >= 0 && (m ?? 0) >= 0
        default: return false
        }
    }
}
