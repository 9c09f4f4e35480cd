/// Turns a Keras model config (Sequential or functional, any generation) plus a weight store
/// into the IR. Nested models are built with their own weight scope and inlined where called.
struct KerasModelBuilder {
    let semantics: KerasSemantics

    static let modelClasses: Set<String> = ["Sequential", "Functional", "Model"]

    func build(model: JSON, weights: WeightStore) throws -> IRGraph {
        guard let className = model["class_name"]?.string else {
            throw DLError.format("model config has no 'class_name'")
        }
        guard Self.modelClasses.contains(className) else {
            throw DLError.unsupported("model class '\(className)' is not supported (Sequential and functional models are)")
        }
        guard let config = model["config"] else { throw DLError.format("model config has no 'config'") }
        var g = IRGraph(name: "model")
        try buildModel(className: className, config: config, weights: weights, fallbackName: "model", into: &g)
        return g
    }

    private func buildModel(className: String, config: JSON, weights: WeightStore, fallbackName: String, into g: inout IRGraph) throws {
        if className == "Sequential" {
            try buildSequential(config, weights: weights, fallbackName: fallbackName, into: &g)
        } else {
            try buildFunctional(config, weights: weights, fallbackName: fallbackName, into: &g)
        }
        for (i, v) in g.outputs.enumerated() where g.values[v].type != .f32 {
            g.outputs[i] = try g.add(.castToFloat, [v], origin: g.outputNames[i])
        }
    }

    // MARK: Layers

    private func layerConfig(_ entry: JSON) throws -> LayerConfig {
        guard let className = entry["class_name"]?.string else { throw DLError.format("layer entry without 'class_name'") }
        let cfg = entry["config"]?.object ?? [:]
        let name = entry["name"]?.string ?? cfg["name"]?.string ?? className
        return LayerConfig(className: className, name: name, json: cfg, semantics: semantics)
    }

    private func makeLayer(_ entry: JSON, weights: WeightStore, graph: inout IRGraph) throws -> LayerEmitter {
        let c = try layerConfig(entry)
        if Self.modelClasses.contains(c.className) {
            // Built on the caller's constant pool, so the inlined nodes' constant ids stay valid.
            var sub = IRGraph(name: c.name)
            sub.constants = graph.constants
            try buildModel(className: c.className, config: entry["config"] ?? .object([:]),
                           weights: try weights.nested(c.name), fallbackName: c.name, into: &sub)
            graph.constants = sub.constants
            sub.name = c.name
            let model = sub
            return LayerEmitter(name: c.name, className: c.className, outputCount: model.outputs.count) { g, ins in
                try g.inline(model, inputs: ins)
            }
        }
        if Self.isKeras3Op(entry) {
            throw DLError.unsupported("\(c.context): Keras op '\(c.className)' used outside a functional model")
        }
        guard let factory = LayerRegistry.factories[c.className] else {
            throw DLError.unsupported("\(c.context): layer class '\(c.className)' is not supported")
        }
        try checkDTypePolicy(c)
        return try factory(c, try weights.layer(c.name), &graph)
    }

    private func checkDTypePolicy(_ c: LayerConfig) throws {
        guard let d = c["dtype"] else { return }
        let policy = d.string ?? d["config"]?["name"]?.string ?? "float32"
        guard policy == "float32" else { throw c.unsupported("dtype", d) }
    }

    // MARK: Inputs

    private func inputPort(_ c: LayerConfig) throws -> (String, Bool, Shape) {
        guard let shapeJSON = c["batch_shape"] ?? c["batch_input_shape"], let dims = shapeJSON.array else {
            throw c.error("input layer has no batch_shape / batch_input_shape")
        }
        let shape = try dims.map { d -> Int in
            if d.isNull { return -1 }
            guard let i = d.int, i >= 0 else { throw c.error("bad input dimension \(d.compact)") }
            return i
        }
        guard !shape.isEmpty else { throw c.error("input shape has no batch dimension") }
        var batchFree = shape
        batchFree[0] = -1
        let dtype = c["dtype"]?.string ?? c["dtype"]?["config"]?["name"]?.string ?? "float32"
        switch dtype {
        case "float32": return (c.name, false, batchFree)
        case "int32", "int64": return (c.name, true, batchFree)
        default: throw c.unsupported("dtype", .string(dtype))
        }
    }

    // MARK: Sequential

    private func buildSequential(_ config: JSON, weights: WeightStore, fallbackName: String, into g: inout IRGraph) throws {
        // Keras 2.0 wrote a Sequential config as the bare list of layers.
        let layers = config.array ?? config["layers"]?.array ?? []
        let name = config["name"]?.string ?? fallbackName
        guard !layers.isEmpty else { throw DLError.format("Sequential model '\(name)' has no layers") }
        var entries = layers
        let port: (String, Bool, Shape)
        let first = try layerConfig(layers[0])
        if first.className == "InputLayer" {
            port = try inputPort(first)
            entries.removeFirst()
        } else if first["batch_shape"] != nil || first["batch_input_shape"] != nil {
            let p = try inputPort(first)
            port = ("\(first.name)_input", p.1, p.2)
        } else if let b = config["build_input_shape"]?.array {
            let shape = b.map { $0.int ?? -1 }
            port = ("\(first.name)_input", false, [-1] + shape.dropFirst())
        } else {
            throw DLError.format("Sequential model '\(name)' does not record its input shape")
        }
        let weights = weights.bound(to: try entries.map { e in let c = try layerConfig(e); return (c.name, c.className) },
                                    includesInputs: false)
        g.name = name
        var value = g.addInput(port)
        var outName = port.0
        for entry in entries {
            let layer = try makeLayer(entry, weights: weights, graph: &g)
            let outs = try withContext(layer.context) { try layer.emit(&g, [value]) }
            guard outs.count == 1 else {
                throw DLError.shape("\(layer.context) yields \(outs.count) outputs; a Sequential layer must yield one")
            }
            value = outs[0]
            outName = layer.name
        }
        g.outputs = [value]
        g.outputNames = [outName]
    }

    // MARK: Functional

    /// Keras 2: [[name, node, index, kwargs], ...] per node. Keras 3: {"args": [...], "kwargs": {...}}
    /// with tensors as {"class_name": "__keras_tensor__", "config": {"keras_history": [name, node, index]}}.
    private func nodeInputs(_ node: JSON, layer: String) throws -> [TensorRef] {
        func ref(_ a: [JSON]) throws -> TensorRef {
            guard a.count >= 3, let n = a[0].string, let k = a[1].int, let i = a[2].int else {
                throw DLError.format("layer '\(layer)': malformed inbound node \(JSON.array(a).compact)")
            }
            return TensorRef(layer: n, node: k, index: i)
        }
        if let o = node.object {
            var refs: [TensorRef] = []
            func collect(_ v: JSON) throws {
                if v["class_name"]?.string == "__keras_tensor__", let h = v["config"]?["keras_history"]?.array {
                    refs.append(try ref(h))
                } else if let a = v.array {
                    for x in a { try collect(x) }
                }
            }
            try collect(o["args"] ?? .array([]))
            return refs
        }
        guard let list = node.array else { throw DLError.format("layer '\(layer)': malformed inbound node") }
        return try list.map { item in
            guard let a = item.array else { throw DLError.format("layer '\(layer)': malformed inbound node") }
            return try ref(a)
        }
    }

    private func refList(_ v: JSON?, what: String, model: String) throws -> [TensorRef] {
        guard let a = v?.array, !a.isEmpty else { throw DLError.format("model '\(model)' has no \(what)") }
        if a[0].string != nil {  // a single [name, node, index]
            guard a.count >= 3, let n = a[0].string, let k = a[1].int, let i = a[2].int else {
                throw DLError.format("model '\(model)': malformed \(what)")
            }
            return [TensorRef(layer: n, node: k, index: i)]
        }
        return try a.map { item in
            guard let t = item.array, t.count >= 3, let n = t[0].string, let k = t[1].int, let i = t[2].int else {
                throw DLError.format("model '\(model)': malformed \(what)")
            }
            return TensorRef(layer: n, node: k, index: i)
        }
    }

    private func buildFunctional(_ config: JSON, weights: WeightStore, fallbackName: String, into g: inout IRGraph) throws {
        let name = config["name"]?.string ?? fallbackName
        g.name = name
        guard let entries = config["layers"]?.array else { throw DLError.format("model '\(name)' has no layers") }
        let weights = weights.bound(to: try entries.map { e in let c = try layerConfig(e); return (c.name, c.className) },
                                    includesInputs: true)
        var values: [TensorRef: Int] = [:]
        var inputValueOf: [String: Int] = [:]
        var inputPorts: [String: (String, Bool, Shape)] = [:]
        var pending: [PendingCall] = []
        var outputNodeOffset: [String: Int] = [:]

        for entry in entries {
            let c = try layerConfig(entry)
            if c.className == "InputLayer" {
                let port = try inputPort(c)
                inputPorts[c.name] = port
                let v = g.newValue(port.1 ? .i32 : .f32, port.2)
                inputValueOf[c.name] = v
                values[TensorRef(layer: c.name, node: 0, index: 0)] = port.1 ? try g.add(.castToFloat, [v], origin: c.name) : v
                continue
            }
            if Self.isKeras3Op(entry) {
                // An op's constants live in its call arguments: one layer per call.
                for (k, node) in (entry["inbound_nodes"]?.array ?? []).enumerated() {
                    let call = try OpCall(keras3Node: node, layer: c.name)
                    let op = try withContext(c.context) { try OpLayers.make(c, call: call) }
                    pending.append(PendingCall(layer: op, node: k, inputs: call.refs))
                }
                continue
            }
            if TFOpLambda.classNames.contains(c.className) {
                for (k, node) in (entry["inbound_nodes"]?.array ?? []).enumerated() {
                    let (op, refs) = try TFOpLambda.make(c, node: node)
                    pending.append(PendingCall(layer: op, node: k, inputs: refs))
                }
                continue
            }
            let layer = try makeLayer(entry, weights: weights, graph: &g)
            let nodes = entry["inbound_nodes"]?.array ?? []
            if Self.modelClasses.contains(c.className), nodes.first?.object != nil, c.className != "Sequential" { outputNodeOffset[c.name] = 1 }
            let offset = nodeIndexOffset(entry, kerasFormat3: nodes.first?.object != nil)
            for (k, node) in nodes.enumerated() {
                pending.append(PendingCall(layer: layer, node: k + offset, inputs: try nodeInputs(node, layer: c.name)))
            }
        }

        try place(pending, values: &values, into: &g, model: name)

        let ins = try refList(config["input_layers"], what: "input_layers", model: name)
        let outs = try refList(config["output_layers"], what: "output_layers", model: name)
        let inputValues = try ins.map { r -> Int in
            guard let v = inputValueOf[r.layer] else { throw DLError.format("model '\(name)': input '\(r.layer)' is not an InputLayer") }
            return v
        }
        let outputValues = try outs.map { r -> Int in
            // Keras 3 counts a nested functional model's own construction node in output_layers
            // (but not in inbound_nodes).
            let key = outputNodeOffset[r.layer].map { TensorRef(layer: r.layer, node: r.node - $0, index: r.index) } ?? r
            guard let v = values[key] else { throw DLError.format("model '\(name)': output '\(r.layer)' is never computed") }
            return v
        }
        var seen: [String: Int] = [:]
        let outputNames = outs.map { r -> String in
            seen[r.layer, default: 0] += 1
            return seen[r.layer]! == 1 ? r.layer : "\(r.layer)_\(seen[r.layer]! - 1)"
        }
        g.inputs = inputValues
        g.inputNames = ins.map { inputPorts[$0.layer]!.0 }
        g.outputs = outputValues
        g.outputNames = outputNames
    }

    private struct PendingCall { let layer: LayerEmitter; let node: Int; let inputs: [TensorRef] }

    /// Emits every call once its inputs exist (config order need not be topological), in the
    /// order repeated sweeps over the config would: each sweep emits, in config order, every call
    /// whose inputs exist by then. A call is queued when its last missing input appears: into the
    /// current sweep if it comes later in the config, else into the next. O(n log n), where
    /// re-sweeping is quadratic on configs listed in reverse.
    private func place(_ pending: [PendingCall], values: inout [TensorRef: Int], into g: inout IRGraph, model name: String) throws {
        var missing = [Int](repeating: 0, count: pending.count)
        var waiting: [TensorRef: [Int]] = [:]
        var sweep = IndexHeap(), nextSweep = IndexHeap()
        for (i, p) in pending.enumerated() {
            for r in p.inputs where values[r] == nil {
                missing[i] += 1
                waiting[r, default: []].append(i)
            }
            if missing[i] == 0 { sweep.push(i) }
        }
        while true {
            while let i = sweep.popMin() {
                let p = pending[i]
                let outs = try withContext(p.layer.context) { try p.layer.emit(&g, p.inputs.map { values[$0]! }) }
                guard outs.count == p.layer.outputCount else {
                    throw DLError(.internal, "\(p.layer.context) emitted \(outs.count) outputs, expected \(p.layer.outputCount)")
                }
                for (k, v) in outs.enumerated() {
                    let ref = TensorRef(layer: p.layer.name, node: p.node, index: k)
                    values[ref] = v
                    for j in waiting.removeValue(forKey: ref) ?? [] {
                        missing[j] -= 1
                        if missing[j] == 0 { j > i ? sweep.push(j) : nextSweep.push(j) }
                    }
                }
            }
            if nextSweep.isEmpty { break }
            swap(&sweep, &nextSweep)
        }
        if let first = missing.firstIndex(where: { $0 > 0 }) {
            let missingRef = pending[first].inputs.first { values[$0] == nil }!
            throw DLError.format("model '\(name)': layer '\(pending[first].layer.name)' reads '\(missingRef.layer)' node \(missingRef.node) tensor \(missingRef.index), which no layer produces")
        }
    }

    /// Keras 3 serialises functional-API ops (x + 3.0, ops.mean...) as entries from keras.src.ops
    /// whose class names can collide with layers ("Add", "Multiply"). Its legacy .h5 writer drops
    /// the module; there an op is told apart by its config, which holds only op arguments, never
    /// the "trainable"/"dtype" every Keras 3 layer config has.
    static func isKeras3Op(_ entry: JSON) -> Bool {
        if let module = entry["module"]?.string { return module.hasPrefix("keras.src.ops") }
        guard entry["inbound_nodes"]?.array?.first?.object != nil, let config = entry["config"]?.object else { return false }
        return config["trainable"] == nil && config["dtype"] == nil && entry["class_name"]?.string != "InputLayer"
    }

    /// In Keras 2 configs, a nested model built on an input owns a node from its construction
    /// that the node indices count; Keras 3 configs count only the calls inside the model.
    private func nodeIndexOffset(_ entry: JSON, kerasFormat3: Bool) -> Int {
        guard !kerasFormat3, let className = entry["class_name"]?.string, Self.modelClasses.contains(className) else { return 0 }
        if className != "Sequential" { return 1 }
        guard let first = (entry["config"]?.array ?? entry["config"]?["layers"]?.array)?.first else { return 0 }
        return first["class_name"]?.string == "InputLayer" || first["config"]?["batch_input_shape"] != nil ? 1 : 0
    }

}

/// A binary min-heap of indices.
private struct IndexHeap {
    private var items: [Int] = []

    var isEmpty: Bool { items.isEmpty }

    mutating func push(_ x: Int) {
        items.append(x)
        var c = items.count - 1
        while c > 0, items[(c - 1) / 2] > items[c] {
            items.swapAt(c, (c - 1) / 2)
            c = (c - 1) / 2
        }
    }

    mutating func popMin() -> Int? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if items.isEmpty { return top }
        items[0] = last
        var p = 0
        while true {
            let l = 2 * p + 1, r = l + 1
            var m = p
            if l < items.count, items[l] < items[m] { m = l }
            if r < items.count, items[r] < items[m] { m = r }
            if m == p { return top }
            items.swapAt(p, m)
            p = m
        }
    }
}
