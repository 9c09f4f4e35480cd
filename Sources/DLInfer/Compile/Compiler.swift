/// Lowers each IR node to a CompiledOp: the algorithm for its shape, its weights packed once.
enum Compiler {
    static let trimEveryBytes = 8 << 20

    static func lower(_ node: Node, _ g: IRGraph, _ table: KernelTable) throws -> CompiledOp {
        switch node.op {
        case .conv(let p): return try ConvOp(node, p, g, table)
        case .depthwise(let p): return try DepthwiseOp(node, p, g, table)
        case .depthwiseChain(let p): return try DepthwiseChainOp(node, p, g, table)
        case .transposedConv(let p): return try TransposedConvOp(node, p, g, table)
        case .dense(let p): return try DenseOp(node, p, g, table)
        case .affine(let p): return try AffineOp(node, p, g)
        case .unary(let a): return UnaryOp(node, a, table)
        case .binary(let k): return BinaryOp(node, k)
        case .softmax(let axis, let log): return SoftmaxOp(node, axis: axis, log: log, math: table.math)
        case .sparsemax(let axis): return SparsemaxOp(node, axis: axis)
        case .glu(let axis): return GLUOp(node, axis: axis)
        case .pool(let p): return PoolOp(node, p, table)
        case .globalPool(let k, rank: _, keepDims: _): return GlobalPoolOp(node, k)
        case .reduce(let k, let axes, keepDims: _): return ReduceOp(node, k, axes: axes)
        case .layerNorm(let p): return try LayerNormOp(node, p, g, math: table.math)
        case .reshape, .identity: return ViewOp(node)
        case .transpose(let perm): return TransposeOp(node, perm)
        case .concat(let axis): return ConcatOp(node, axis: axis)
        case .slice(let spec): return SliceOp(node, spec)
        case .spatial(let p): return SpatialOp(node, p)
        case .castToFloat: return CastOp(node, fromInt: g.values[node.inputs[0]].type == .i32)
        }
    }

    /// Lowers every node. Weights are released from the graph as soon as the last op reading
    /// them has its own copy, and handed back to the system every `trimEveryBytes` (packed
    /// weights of 2 MB and more do not reuse them, see LargeAllocation), so a model never holds
    /// two copies of its weights for long.
    static func compile(_ graph: consuming IRGraph, kernels: KernelTable? = nil) throws -> CompiledModel {
        _ = pinOpenBLASToOneThread
        let table = try kernels ?? KernelTable.active.get()
        var g = graph
        var constants: [ConstID: AlignedBuffer] = [:]
        var keep = [Bool](repeating: false, count: g.constants.count)
        for v in g.values {
            guard let c = v.constant else { continue }
            keep[c] = true
            if constants[c] == nil { constants[c] = try AlignedBuffer(g.constants[c].data) }
        }
        var lastUse = [Int](repeating: -1, count: g.constants.count)
        for (i, n) in g.nodes.enumerated() { for c in n.op.constants { lastUse[c] = i } }
        var ops: [CompiledOp] = []
        var releasedBytes = 0
        for (i, n) in g.nodes.enumerated() {
            ops.append(try withContext("layer '\(n.origin.joined(separator: "', '"))'") { try lower(n, g, table) })
            for c in n.op.constants where lastUse[c] == i && !keep[c] {
                releasedBytes += g.constants[c].data.count * MemoryLayout<Float>.stride
                g.constants[c].data = []
            }
            if releasedBytes >= trimEveryBytes {
                LargeAllocation.returnFreedHeap()
                releasedBytes = 0
            }
        }
        LargeAllocation.returnFreedHeap()
        return CompiledModel(graph: g, ops: ops, constantData: constants, kernels: table)
    }
}

/// A model ready to run: the optimised graph and its lowered ops. Immutable; every session of
/// the model shares it.
final class CompiledModel: @unchecked Sendable {
    let graph: IRGraph
    let ops: [CompiledOp]
    /// Data of the graph's constant values (operands of elementwise ops).
    let constantData: [ConstID: AlignedBuffer]
    let kernels: KernelTable

    init(graph: IRGraph, ops: [CompiledOp], constantData: [ConstID: AlignedBuffer], kernels: KernelTable) {
        self.graph = graph
        self.ops = ops
        self.constantData = constantData
        self.kernels = kernels
    }
}
