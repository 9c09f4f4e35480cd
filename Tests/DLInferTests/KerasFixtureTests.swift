import DLInfer
import Testing

/// Every committed fixture: load the Keras file, run Keras' inputs, match Keras' outputs.
@Suite struct KerasFixtureTests {
    @Test("fixture set is present") func fixturesPresent() {
        #expect(Fixtures.cases.count > 100, "Tests/Fixtures holds \(Fixtures.cases.count) cases")
    }

    @Test("matches Keras", arguments: Fixtures.cases)
    func matchesKeras(_ name: String) throws {
        let dir = "\(Fixtures.root)/\(name)"
        let m = try Fixtures.manifest(name)
        let model = try Model(path: "\(dir)/\(m.model)", weightsPath: m.weights.map { "\(dir)/\($0)" })
        let inputs: [(shape: [Int], data: InputData)] = try m.inputs.map { f in
            let a = try NpyArray(path: "\(dir)/\(f)")
            switch a.values {
            case .float32(let v): return (a.shape, .float32(v))
            case .int32(let v): return (a.shape, .int32(v))
            }
        }
        let outputs = try Session(model: model).run(inputs)
        try #require(outputs.count == m.outputs.count, "model gives \(outputs.count) outputs, Keras \(m.outputs.count)")
        for (i, f) in m.outputs.enumerated() {
            let ref = try NpyArray(path: "\(dir)/\(f)")
            #expect(outputs[i].shape == ref.shape, "output \(i) shape")
            let miss = Fixtures.compare(outputs[i].data, ref.floats, m.tolerance,
                                        argmaxClasses: m.argmax == true ? ref.shape.last : nil)
            #expect(miss == nil, "output \(i): \(miss ?? "")")
        }
    }
}
