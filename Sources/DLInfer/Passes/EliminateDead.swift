/// Drops nodes none of whose outputs is read (branches a functional model computes but never
/// uses), repeatedly, from the end.
enum EliminateDead {
    static func run(_ g: inout IRGraph) -> Int {
        var r = Rewriter(g)
        var count = 0
        for i in g.nodes.indices.reversed() where g.nodes[i].outputs.allSatisfy({ r.readers[$0] == 0 }) {
            r.remove(i)
            count += 1
        }
        g = r.finish()
        return count
    }
}
