/// Drops what is the identity at inference: Dropout and the noise/regularisation layers, the
/// `linear` activation, x * 1 + 0.
enum EliminateIdentity {
    static func isIdentity(_ op: Op) -> Bool {
        switch op {
        case .identity, .unary(.linear), .unary(.scaleShift(scale: 1, shift: 0)): return true
        default: return false
        }
    }

    /// Returns how many nodes it removed.
    static func run(_ g: inout IRGraph) -> Int {
        var r = Rewriter(moving: &g)
        var count = 0
        for i in r.graph.nodes.indices where isIdentity(r.graph.nodes[i].op) {
            let node = r.graph.nodes[i]
            r.remove(i)
            r.bypass(node.outputs[0], with: node.inputs[0])
            count += 1
        }
        g = r.finish()
        return count
    }
}
