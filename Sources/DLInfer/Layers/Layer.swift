/// A layer as the executor sees it: a named function of tensors with static shape inference.
/// Shapes use -1 for dimensions known only at run time.
protocol Layer: AnyObject {
    var name: String { get }
    var className: String { get }
    func outputShapes(_ inputs: [Shape]) throws -> [Shape]
    func forward(_ inputs: [Tensor]) throws -> [Tensor]
}

/// The common case: one input, one output.
protocol UnaryLayer: Layer {
    func outputShape(_ input: Shape) throws -> Shape
    func forward(_ input: Tensor) throws -> Tensor
}

extension UnaryLayer {
    func outputShapes(_ inputs: [Shape]) throws -> [Shape] {
        guard inputs.count == 1 else { throw DLError.shape("expects 1 input, got \(inputs.count)") }
        return [try outputShape(inputs[0])]
    }
    func forward(_ inputs: [Tensor]) throws -> [Tensor] {
        guard inputs.count == 1 else { throw DLError.shape("expects 1 input, got \(inputs.count)") }
        return [try forward(inputs[0])]
    }
}

/// Checks a run-time or static shape against the rank a layer needs.
func requireRank(_ shape: Shape, _ rank: Int, _ what: String = "input") throws {
    guard shape.count == rank else {
        throw DLError.shape("expects a rank-\(rank) \(what), got shape \(shape.described)")
    }
}

func requireRank(_ shape: Shape, atLeast rank: Int) throws {
    guard shape.count >= rank else {
        throw DLError.shape("expects an input of rank >= \(rank), got shape \(shape.described)")
    }
}

/// Combines a known and a possibly unknown dimension during shape inference.
func dimsAgree(_ a: Int, _ b: Int) -> Bool { a < 0 || b < 0 || a == b }
