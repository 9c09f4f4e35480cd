/// Flatten, Reshape and Permute: layout-only layers.
final class ReshapeLayer: UnaryLayer {
    let name: String
    let className: String
    /// Target shape without the batch dimension; -1 marks the inferred dimension. nil = flatten.
    let target: [Int]?

    init(name: String, className: String, target: [Int]?) {
        self.name = name
        self.className = className
        self.target = target
    }

    static func makeFlatten(_ c: LayerConfig, _ w: StoredWeights) throws -> Layer {
        _ = try w.take([], for: c)
        try c.requireChannelsLast()
        return ReshapeLayer(name: c.name, className: c.className, target: nil)
    }

    static func makeReshape(_ c: LayerConfig, _ w: StoredWeights) throws -> Layer {
        _ = try w.take([], for: c)
        guard let t = try c.intList("target_shape") else { throw c.error("missing option 'target_shape'") }
        guard t.filter({ $0 == -1 }).count <= 1, t.allSatisfy({ $0 == -1 || $0 > 0 }) else { throw c.unsupported("target_shape", c["target_shape"]!) }
        return ReshapeLayer(name: c.name, className: c.className, target: t)
    }

    private func resolve(_ input: Shape) throws -> Shape {
        let rest = Array(input.dropFirst())
        let known = rest.allSatisfy { $0 >= 0 }
        guard let target else { return [input[0], known ? rest.elementCount : -1] }
        guard known else { return [input[0]] + target }
        let total = rest.elementCount
        let fixed = target.filter { $0 != -1 }.elementCount
        if let free = target.firstIndex(of: -1) {
            guard fixed > 0, total % fixed == 0 else { throw DLError.shape("cannot reshape \(input.described) to \(target.described)") }
            var t = target
            t[free] = total / fixed
            return [input[0]] + t
        }
        guard fixed == total else { throw DLError.shape("cannot reshape \(input.described) to \(target.described)") }
        return [input[0]] + target
    }

    func outputShape(_ input: Shape) throws -> Shape {
        try requireRank(input, atLeast: 1)
        return try resolve(input)
    }

    func forward(_ x: Tensor) throws -> Tensor {
        Tensor(shape: try resolve(x.shape), data: x.data)
    }
}

final class PermuteLayer: UnaryLayer {
    let name: String
    let className = "Permute"
    let dims: [Int]  // 1-based, excluding batch, as in Keras

    init(name: String, dims: [Int]) {
        self.name = name
        self.dims = dims
    }

    static func make(_ c: LayerConfig, _ w: StoredWeights) throws -> Layer {
        _ = try w.take([], for: c)
        guard let d = try c.intList("dims"), Set(d) == Set(1...max(d.count, 1)) else {
            throw c.error("option 'dims' must be a permutation of 1..n")
        }
        return PermuteLayer(name: c.name, dims: d)
    }

    func outputShape(_ input: Shape) throws -> Shape {
        try requireRank(input, dims.count + 1)
        return [input[0]] + dims.map { input[$0] }
    }

    func forward(_ x: Tensor) throws -> Tensor {
        let perm = [0] + dims
        return transpose(x, perm: perm)
    }
}

/// General axis permutation of a dense tensor.
func transpose(_ x: Tensor, perm: [Int]) -> Tensor {
    let outShape = perm.map { x.shape[$0] }
    let inStrides = rowMajorStrides(x.shape)
    let srcStrides = perm.map { inStrides[$0] }
    var y = Tensor(zeros: outShape)
    let rank = outShape.count
    var index = [Int](repeating: 0, count: rank)
    var src = 0
    for i in 0..<y.count {
        y.data[i] = x.data[src]
        var d = rank - 1
        while d >= 0 {
            index[d] += 1
            src += srcStrides[d]
            if index[d] < outShape[d] { break }
            src -= srcStrides[d] * outShape[d]
            index[d] = 0
            d -= 1
        }
    }
    return y
}
