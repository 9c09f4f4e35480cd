@testable import DLInfer

/// Small hand-built IR graphs for pass and planner tests, and a way to run them.
struct GraphHarness {
    var g = IRGraph(name: "test")
    var rng = SplitMix(seed: 7)

    mutating func input(_ shape: Shape) -> ValueID { g.addInput((name: "x\(g.inputs.count)", isInt32: false, shape: shape)) }

    mutating func random(_ shape: [Int]) -> ConstTensor {
        ConstTensor(shape: shape, data: (0..<shape.reduce(1, *)).map { _ in rng.uniform() })
    }

    mutating func const(_ shape: [Int]) -> ConstID { g.addConstant(random(shape)) }

    mutating func add(_ op: Op, _ ins: [ValueID]) throws -> ValueID { try g.add(op, ins, origin: "n\(g.nodes.count)") }

    mutating func output(_ v: ValueID) {
        g.outputs.append(v)
        g.outputNames.append("y\(g.outputs.count)")
    }

    /// Runs a graph on inputs of the given shapes (batch 1 for -1) through the compiled runtime.
    static func run(_ g: IRGraph, _ inputs: [[Float]], shapes: [[Int]]) throws -> [[Float]] {
        let model = try Compiler.compile(g)
        let plan = try Plan(model: model, inputShapes: shapes)
        for (v, x) in zip(plan.inputViews, inputs) { x.withUnsafeBufferPointer { v.f32.update(from: $0.baseAddress!, count: v.count) } }
        plan.execute(profile: false)
        return plan.outputViews.map { Array(UnsafeBufferPointer(start: $0.f32, count: $0.count)) }
    }
}

/// Deterministic uniform floats in [-1, 1).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Float { Float(next() >> 40) / Float(1 << 24) * 2 - 1 }
}

func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count)
    return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}

func count(_ g: IRGraph, _ kind: String) -> Int { g.nodes.filter { $0.op.kindName.hasPrefix(kind) }.count }
