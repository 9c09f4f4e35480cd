/// Bookkeeping shared by the passes: who reads and who produces each value, kept current as
/// nodes are rewritten or dropped in one forward sweep.
struct Rewriter {
    var graph: IRGraph
    private(set) var readers: [Int]
    private(set) var producer: [Int?]
    private(set) var removed: [Bool]
    private var isOutput: [Bool]

    /// Takes the graph over (leaving `g` empty until `finish()` hands it back), so buffers the
    /// pass drops are freed rather than kept alive by the caller's copy.
    init(moving g: inout IRGraph) {
        graph = g
        g = IRGraph(name: g.name)
        readers = graph.readerCounts()
        producer = graph.producers()
        removed = [Bool](repeating: false, count: graph.nodes.count)
        isOutput = [Bool](repeating: false, count: graph.values.count)
        for v in graph.outputs { isOutput[v] = true }
    }

    /// A value only `consumer` reads (so its producer may be rewritten to produce something else).
    func onlyReadOnceInternally(_ v: ValueID) -> Bool { readers[v] == 1 && !isOutput[v] }

    func isGraphOutput(_ v: ValueID) -> Bool { isOutput[v] }

    /// Drops node `i`, whose output is now produced by node `into` (or replaced by `bypass`).
    mutating func remove(_ i: Int) {
        removed[i] = true
        for v in graph.nodes[i].inputs { readers[v] -= 1 }
    }

    /// Node `i` now produces `outputs` (taking them over from a removed node).
    mutating func setOutputs(_ i: Int, _ outputs: [ValueID]) {
        graph.nodes[i].outputs = outputs
        for v in outputs { producer[v] = i }
    }

    mutating func addInput(_ i: Int, _ v: ValueID) {
        graph.nodes[i].inputs.append(v)
        readers[v] += 1
    }

    mutating func replaceInput(_ i: Int, at j: Int, with v: ValueID) {
        readers[graph.nodes[i].inputs[j]] -= 1
        graph.nodes[i].inputs[j] = v
        readers[v] += 1
    }

    /// Every read of `old` becomes a read of `new` (graph outputs included).
    mutating func bypass(_ old: ValueID, with new: ValueID) {
        for i in graph.nodes.indices where !removed[i] {
            for j in graph.nodes[i].inputs.indices where graph.nodes[i].inputs[j] == old {
                graph.nodes[i].inputs[j] = new
                readers[old] -= 1
                readers[new] += 1
            }
        }
        for j in graph.outputs.indices where graph.outputs[j] == old {
            graph.outputs[j] = new
            readers[old] -= 1
            readers[new] += 1
            isOutput[new] = true
        }
    }

    /// Frees the data of constants no node and no value refers to any more.
    mutating func releaseUnusedConstants() {
        var used = [Bool](repeating: false, count: graph.constants.count)
        for (i, n) in graph.nodes.enumerated() where !removed[i] { for c in n.op.constants { used[c] = true } }
        for v in graph.values { if let c = v.constant { used[c] = true } }
        for c in used.indices where !used[c] && !graph.constants[c].data.isEmpty { graph.constants[c].data = [] }
    }

    /// The graph without the removed nodes.
    func finish() -> IRGraph {
        var g = graph
        g.nodes = zip(graph.nodes, removed).filter { !$0.1 }.map { $0.0 }
        return g
    }
}
