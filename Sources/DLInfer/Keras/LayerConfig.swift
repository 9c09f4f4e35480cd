/// One layer's Keras config with typed accessors whose errors name the layer, class and option.
struct LayerConfig {
    let className: String
    let name: String
    let json: [String: JSON]
    let semantics: KerasSemantics

    var context: String { "layer '\(name)' (\(className))" }

    func error(_ message: String) -> DLError { DLError.format("\(context): \(message)") }
    func unsupported(_ option: String, _ value: JSON) -> DLError {
        DLError.unsupported("\(context): option \(option)=\(value.compact) is not supported")
    }

    subscript(key: String) -> JSON? {
        guard let v = json[key], !v.isNull else { return nil }
        return v
    }

    func int(_ key: String, default d: Int? = nil) throws -> Int {
        guard let v = self[key] else {
            if let d { return d }
            throw error("missing option '\(key)'")
        }
        if let i = v.int { return i }
        if let a = v.array, a.count == 1, let i = a[0].int { return i }
        throw error("option '\(key)' must be an integer, got \(v.compact)")
    }

    /// An int or a tuple of ints of length `count` (Keras accepts both for kernel_size, strides...).
    func ints(_ key: String, count: Int, default d: Int? = nil) throws -> [Int] {
        guard let v = self[key] else {
            if let d { return [Int](repeating: d, count: count) }
            throw error("missing option '\(key)'")
        }
        if let i = v.int { return [Int](repeating: i, count: count) }
        if let a = v.array {
            let ints = a.compactMap { $0.int }
            if ints.count == a.count {
                if ints.count == count { return ints }
                if ints.count == 1 { return [Int](repeating: ints[0], count: count) }
            }
        }
        throw error("option '\(key)' must be an integer or \(count) integers, got \(v.compact)")
    }

    func intList(_ key: String) throws -> [Int]? {
        guard let v = self[key] else { return nil }
        if let i = v.int { return [i] }
        guard let a = v.array else { throw error("option '\(key)' must be a list of integers, got \(v.compact)") }
        return try a.map { guard let i = $0.int else { throw error("option '\(key)' must hold integers, got \(v.compact)") }; return i }
    }

    func float(_ key: String, default d: Float? = nil) throws -> Float {
        guard let v = self[key] else {
            if let d { return d }
            throw error("missing option '\(key)'")
        }
        if let n = v.number { return Float(n) }
        throw error("option '\(key)' must be a number, got \(v.compact)")
    }

    func optionalFloat(_ key: String) throws -> Float? {
        guard let v = self[key] else { return nil }
        if let n = v.number { return Float(n) }
        throw error("option '\(key)' must be a number, got \(v.compact)")
    }

    func bool(_ key: String, default d: Bool) throws -> Bool {
        guard let v = self[key] else { return d }
        if let b = v.bool { return b }
        throw error("option '\(key)' must be true or false, got \(v.compact)")
    }

    func string(_ key: String, default d: String? = nil) throws -> String {
        guard let v = self[key] else {
            if let d { return d }
            throw error("missing option '\(key)'")
        }
        if let s = v.string { return s }
        throw error("option '\(key)' must be a string, got \(v.compact)")
    }

    /// Refuses any value of `key` other than the listed ones.
    func require(_ key: String, in allowed: [String], default d: String) throws -> String {
        let s = try string(key, default: d)
        guard allowed.contains(s) else { throw unsupported(key, .string(s)) }
        return s
    }

    /// NHWC only: Keras' channels_last.
    func requireChannelsLast() throws {
        _ = try require("data_format", in: ["channels_last"], default: "channels_last")
    }

    func padding(allowCausal: Bool = false) throws -> Padding {
        let s = try string("padding", default: "valid").lowercased()
        guard let p = Padding(rawValue: s), allowCausal || p != .causal else { throw unsupported("padding", .string(s)) }
        return p
    }

    func activation(_ key: String = "activation") throws -> ActivationSpec {
        guard let v = self[key] else { return .elementwise(.linear) }
        var nameValue = v
        if let o = v.object {
            // Keras 3 may serialise an activation as {"module": "keras.activations", "class_name": "function", "config": "relu"}.
            if let c = o["config"]?.string { nameValue = .string(c) }
            else if let c = o["config"]?["name"]?.string { nameValue = .string(c) }
            else { throw unsupported(key, v) }
        }
        guard let name = nameValue.string else { throw unsupported(key, v) }
        guard let f = ActivationSpec.named(name, semantics: semantics) else {
            throw DLError.unsupported("\(context): activation '\(name)' is not supported")
        }
        return f
    }
}

extension ActivationSpec {
    /// Built-in Keras activation strings, with the meaning of the Keras generation in `semantics`.
    static func named(_ name: String, semantics: KerasSemantics) -> ActivationSpec? {
        switch name {
        case "softmax": return .softmax(axis: -1, log: false)
        case "log_softmax": return .softmax(axis: -1, log: true)
        case "glu": return .glu(axis: -1)
        case "sparsemax": return .sparsemax(axis: -1)
        default: return Activation.named(name, semantics: semantics).map { .elementwise($0) }
        }
    }
}

extension Activation {
    static func named(_ name: String, semantics: KerasSemantics) -> Activation? {
        switch name {
        case "linear", "None": return .linear
        case "relu": return .relu
        case "relu6": return .relu6
        case "sigmoid": return .sigmoid
        case "tanh": return .tanh
        case "elu": return .elu(alpha: 1)
        case "selu": return .selu
        case "softplus": return .softplus
        case "softsign": return .softsign
        case "swish", "silu": return .swish
        case "gelu": return .gelu(approximate: false)
        case "exponential": return .exponential
        case "leaky_relu": return .leakyRelu(slope: 0.2)
        case "mish": return .mish
        case "hard_sigmoid": return semantics.isKeras3 ? .hardSigmoidKeras3 : .hardSigmoidKeras2
        case "hard_swish", "hard_silu": return .hardSwish
        case "celu": return .celu(alpha: 1)
        case "hard_shrink": return .hardShrink(threshold: 0.5)
        case "soft_shrink": return .softShrink(threshold: 0.5)
        case "hard_tanh": return .hardTanh
        case "log_sigmoid": return .logSigmoid
        case "sparse_plus": return .sparsePlus
        case "sparse_sigmoid": return .sparseSigmoid
        case "squareplus": return .squareplus(b: 4)
        case "tanh_shrink": return .tanhShrink
        default: return nil
        }
    }
}

extension JSON {
    /// Short JSON rendering for messages.
    var compact: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .number(let d): return d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : String(d)
        case .string(let s): return "'\(s)'"
        case .array(let a): return "[" + a.map { $0.compact }.joined(separator: ", ") + "]"
        case .object(let o): return "{" + o.keys.sorted().map { "\($0): \(o[$0]!.compact)" }.joined(separator: ", ") + "}"
        }
    }
}
