/// Flatten, Reshape and Permute: layout-only layers (Flatten and Reshape run as views).
enum ReshapingLayers {
    static func flatten(_ c: LayerConfig, _ w: StoredWeights, _ g: inout IRGraph) throws -> LayerEmitter {
        _ = try w.take([], for: c)
        try c.requireChannelsLast()
        return .op(c, .reshape(.flatten))
    }

    static func reshape(_ c: LayerConfig, _ w: StoredWeights, _ g: inout IRGraph) throws -> LayerEmitter {
        _ = try w.take([], for: c)
        guard let t = try c.intList("target_shape") else { throw c.error("missing option 'target_shape'") }
        guard t.filter({ $0 == -1 }).count <= 1, t.allSatisfy({ $0 == -1 || $0 > 0 }) else { throw c.unsupported("target_shape", c["target_shape"]!) }
        return .op(c, .reshape(.keepBatch(t)))
    }

    static func permute(_ c: LayerConfig, _ w: StoredWeights, _ g: inout IRGraph) throws -> LayerEmitter {
        _ = try w.take([], for: c)
        guard let d = try c.intList("dims"), Set(d) == Set(1...max(d.count, 1)) else {
            throw c.error("option 'dims' must be a permutation of 1..n")
        }
        return .op(c, .transpose([0] + d))
    }
}
