/// Where a model scope's weights come from. Keras has written two layouts:
/// legacy (per-layer groups listing `weight_names`) and Keras 3 (`layers/<name>/vars/<i>`).
protocol WeightStore {
    /// The weights stored for layer `name` of this scope, in the file's order.
    func layer(_ name: String) throws -> StoredWeights
    /// The scope of a nested model used as layer `name`.
    func nested(_ name: String) throws -> WeightStore
    /// This scope, told the model's layers (config name, class) in the order the model lists
    /// them (`includesInputs`: whether that list holds its InputLayers, as functional models' do).
    func bound(to layers: [(name: String, className: String)], includesInputs: Bool) -> WeightStore
}

extension WeightStore {
    func bound(to layers: [(name: String, className: String)], includesInputs: Bool) -> WeightStore { self }
}

/// One layer's stored weights; a layer takes them by the variable names it expects, in order.
struct StoredWeights {
    let location: String
    let labels: [String]
    let load: (Int) throws -> Tensor

    static func empty(_ location: String) -> StoredWeights {
        StoredWeights(location: location, labels: [], load: { _ in throw DLError(.internal, "no weights") })
    }

    /// Returns the tensors for `expected` (variable names in Keras' order), checking the count.
    func take(_ expected: [String], for config: LayerConfig) throws -> [Tensor] {
        guard labels.count == expected.count else {
            if labels.isEmpty {
                throw DLError.weights("\(config.context): weights missing from the file (expected \(expected.joined(separator: ", ")))")
            }
            throw DLError.weights("\(config.context): the file holds \(labels.count) weight(s) [\(labels.joined(separator: ", "))] at \(location), expected \(expected.count) [\(expected.joined(separator: ", "))]")
        }
        return try (0..<labels.count).map { try load($0) }
    }
}

/// Checks a weight's shape and names the layer and variable when it is wrong.
func requireShape(_ t: Tensor, _ shape: [Int], _ variable: String, _ config: LayerConfig) throws {
    guard t.shape == shape else {
        throw DLError.weights("\(config.context): weight '\(variable)' has shape \(t.shape.described), expected \(shape.described)")
    }
}

/// Legacy layout: `model_weights/<layer>` (full models) or `/<layer>` (save_weights), each with a
/// `weight_names` attribute listing dataset paths relative to the layer group.
struct LegacyWeightStore: WeightStore {
    let root: HDF5Group

    func layer(_ name: String) throws -> StoredWeights {
        guard try root.kind(of: name) == .group else { return .empty("\(root.description)/\(name)") }
        let g = root.child(name)
        let names = try g.stringsAttribute("weight_names") ?? []
        return StoredWeights(location: g.description, labels: names, load: { try g.readTensor(names[$0]) })
    }

    func nested(_ name: String) throws -> WeightStore {
        let w = try layer(name)
        return LegacyNestedWeightStore(parent: w, entries: Array(0..<w.labels.count))
    }
}

/// The weights of a nested model in the legacy layout: one flat `weight_names` list for all its
/// layers. Entries belong to the inner layer whose name is a component of their path
/// (".../<layer>/kernel:0").
struct LegacyNestedWeightStore: WeightStore {
    let parent: StoredWeights
    let entries: [Int]

    private func entries(under name: String) -> [Int] {
        entries.filter { parent.labels[$0].split(separator: "/").dropLast().contains { $0 == name } }
    }

    func layer(_ name: String) throws -> StoredWeights {
        let mine = entries(under: name)
        return StoredWeights(location: "\(parent.location) [\(name)]", labels: mine.map { parent.labels[$0] },
                             load: { try parent.load(mine[$0]) })
    }

    func nested(_ name: String) throws -> WeightStore {
        // Inner models' weight paths need not carry the model's own name; then keep the whole scope.
        let mine = entries(under: name)
        return LegacyNestedWeightStore(parent: parent, entries: mine.isEmpty ? entries : mine)
    }
}

/// Keras 3 layout (`.weights.h5`, and inside `.keras`): `layers/<key>/vars/<i>`, nested models
/// under `layers/<key>/layers/<key>`. Keras does not key layers by their names but by their class
/// in snake case, numbered in model order: conv2d, conv2d_1, batch_normalization, ...
struct VarsWeightStore: WeightStore {
    let scope: HDF5Group
    var keys: [String: String] = [:]

    init(scope: HDF5Group) {
        self.scope = scope
    }

    func bound(to layers: [(name: String, className: String)], includesInputs: Bool) -> WeightStore {
        var copy = self
        var used: [String: Int] = [:]
        for layer in layers where includesInputs || layer.className != "InputLayer" {
            let base = snakeCase(layer.className)
            if let n = used[base] {
                used[base] = n + 1
                copy.keys[layer.name] = "\(base)_\(n + 1)"
            } else {
                used[base] = 0
                copy.keys[layer.name] = base
            }
        }
        return copy
    }

    private func key(_ name: String) -> String { keys[name] ?? name }

    func layer(_ name: String) throws -> StoredWeights {
        let path = "layers/\(key(name))/vars"
        guard try scope.kind(of: path) == .group else { return .empty("\(scope.description)/\(path)") }
        let g = scope.child(path)
        let names = try g.children().sorted { (Int($0) ?? Int.max, $0) < (Int($1) ?? Int.max, $1) }
        return StoredWeights(location: g.description, labels: names, load: { try g.readTensor(names[$0]) })
    }

    func nested(_ name: String) throws -> WeightStore {
        VarsWeightStore(scope: scope.child("layers/\(key(name))"))
    }
}

/// keras.src.utils.naming.to_snake_case: "DepthwiseConv2D" -> "depthwise_conv2d", "PReLU" -> "p_re_lu".
func snakeCase(_ name: String) -> String {
    let s = Array(name.unicodeScalars.filter { $0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_" })
    func upper(_ c: Unicode.Scalar) -> Bool { ("A"..."Z").contains(c) }
    func lower(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) }
    // (.)([A-Z][a-z]+) -> \1_\2
    var a: [Unicode.Scalar] = []
    var i = 0
    while i < s.count {
        if i + 2 < s.count, upper(s[i + 1]), lower(s[i + 2]) {
            var j = i + 2
            while j < s.count, lower(s[j]) { j += 1 }
            a.append(s[i]); a.append("_"); a.append(contentsOf: s[(i + 1)..<j])
            i = j
        } else {
            a.append(s[i]); i += 1
        }
    }
    // ([a-z])([A-Z]) -> \1_\2
    var b: [Unicode.Scalar] = []
    i = 0
    while i < a.count {
        if i + 1 < a.count, lower(a[i]), upper(a[i + 1]) {
            b.append(a[i]); b.append("_"); b.append(a[i + 1])
            i += 2
        } else {
            b.append(a[i]); i += 1
        }
    }
    return String(String.UnicodeScalarView(b)).lowercased()
}
