/// Evaluates, once at load, every node whose inputs are all constants, and makes its outputs
/// constants (e.g. arithmetic on constants in Keras op layers).
enum FoldConstants {
    static func run(_ g: inout IRGraph) throws -> Int {
        var r = Rewriter(moving: &g)
        var count = 0
        for i in r.graph.nodes.indices {
            let node = r.graph.nodes[i]
            guard !node.inputs.isEmpty, node.inputs.allSatisfy({ r.graph.values[$0].constant != nil }) else { continue }
            let outputs = try withContext("layer '\(node.origin.joined(separator: "', '"))'") { try evaluate(node, r.graph) }
            for (v, t) in zip(node.outputs, outputs) {
                r.graph.values[v].shape = t.shape
                r.graph.values[v].constant = r.graph.addConstant(t)
            }
            r.remove(i)
            count += 1
        }
        r.releaseUnusedConstants()
        g = r.finish()
        return count
    }

    /// Runs one node on its constant inputs with the same compiled op a session would use.
    static func evaluate(_ node: Node, _ g: IRGraph) throws -> [ConstTensor] {
        let op = try Compiler.lower(node, g, try KernelTable.active.get())
        let inputs = node.inputs.map { g.constants[g.values[$0].constant!] }
        let p = try op.plan(inputs.map { $0.shape })
        let inBuffers = try inputs.map { try AlignedBuffer($0.data) }
        let outBuffers = try p.outputs.map { try AlignedBuffer(count: try checkedCount($0)) }
        let scratch = try AlignedBuffer(count: (p.scratchBytes + 3) / 4)
        let step = Step(op: op, node: 0,
                        inputs: zip(inBuffers, inputs).map { TensorView(data: UnsafeMutableRawPointer($0.pointer), shape: $1.shape, count: $1.count) },
                        outputs: zip(outBuffers, p.outputs).map { TensorView(data: UnsafeMutableRawPointer($0.pointer), shape: $1, count: $0.count) },
                        scratch: UnsafeMutableRawPointer(scratch.pointer), flops: 0, weightBytes: 0, aux: p.aux, pool: .serial)
        withExtendedLifetime((inBuffers, outBuffers, scratch)) { op.run(step) }
        return zip(outBuffers, p.outputs).map { ConstTensor(shape: $1, data: Array(UnsafeBufferPointer(start: $0.pointer, count: $0.count))) }
    }
}
