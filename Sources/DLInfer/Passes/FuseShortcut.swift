/// Sums a projection shortcut into the 1x1 convolution it is added to: `conv(a) + shortcut(s)`,
/// shortcut a 1x1 convolution of its own input (any stride) that nothing else reads, becomes one
/// convolution over both inputs (ConvParams.shortcut), its K the two inputs' channels together,
/// when their channel counts share a divisor of at least `minimumTap`.
/// ResNet's first block of each stage: the shortcut's output (3.2 MB at 56x56) is neither written
/// nor read back as a residual, and the two GEMMs become one with a longer K.
enum FuseShortcut {
    /// The fewest channels per tap of the fused indirect GEMM (the two inputs' channel counts'
    /// greatest common divisor): shorter taps cost more in per-tap overhead than the fusion saves,
    /// as for any indirect GEMM (ConvParams.indirectMinChannels).
    static let minimumTap = ConvParams.indirectMinChannels

    /// Returns how many.
    static func run(_ g: inout IRGraph) -> Int {
        var r = Rewriter(moving: &g)
        var count = 0
        for i in r.graph.nodes.indices where !r.removed[i] {
            guard case .conv(var p) = r.graph.nodes[i].op, p.window.rank == 2, p.isPointwise, p.epilogue.residual,
                  p.shortcut == nil, r.graph.nodes[i].inputs.count == 2 else { continue }
            let residual = r.graph.nodes[i].inputs[1]
            guard let qi = r.producer[residual], !r.removed[qi], r.onlyReadOnceInternally(residual),
                  case .conv(let q) = r.graph.nodes[qi].op, isShortcut(q), r.graph.nodes[qi].inputs.count == 1 else { continue }
            let source = r.graph.nodes[qi].inputs[0]
            guard r.graph.values[source].constant == nil, r.graph.values[source].shape.count == 4,
                  greatestCommonDivisor(r.graph.constantShapes[p.weights][2], r.graph.constantShapes[q.weights][2]) >= minimumTap
            else { continue }
            p.shortcut = ConvParams.Shortcut(weights: q.weights, sh: q.window.sh, sw: q.window.sw)
            p.epilogue.residual = false
            p.epilogue.bias = summedBias(p.epilogue.bias, q.epilogue.bias, &r.graph)
            r.graph.nodes[i].op = .conv(p)
            r.graph.nodes[i].origin = r.graph.nodes[qi].origin + r.graph.nodes[i].origin
            r.replaceInput(i, at: 1, with: source)
            r.remove(qi)
            count += 1
        }
        r.releaseUnusedConstants()
        g = r.finish()
        return count
    }

    /// A 2D unpadded 1x1 convolution (any stride) with nothing but a bias in its epilogue.
    private static func isShortcut(_ q: ConvParams) -> Bool {
        q.window.rank == 2 && q.isUnpadded1x1 && q.epilogue.activation == .linear && !q.epilogue.residual && q.shortcut == nil
    }

    private static func summedBias(_ a: ConstID?, _ b: ConstID?, _ g: inout IRGraph) -> ConstID? {
        guard let a, let b else { return a ?? b }
        let x = g.constants[a], y = g.constants[b]
        return g.addConstant(ConstTensor(shape: x.shape, data: zip(x.data, y.data).map { $0 + $1 }))
    }
}
