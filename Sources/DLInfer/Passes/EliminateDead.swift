/// Drops nodes none of whose outputs is read (branches a functional model computes but never
/// uses), repeatedly, from the end.
enum EliminateDead {
    static func run(_ g: inout IRGraph) -> Int {
        var r = Rewriter(moving: &g)
        var count = 0
        for i in r.graph.nodes.indices.reversed() where r.graph.nodes[i].outputs.allSatisfy({ r.readers[$0] == 0 }) {
            r.remove(i)
            count += 1
        }
        g = r.finish()
        return count
    }
}
