import DLInfer
import Foundation
import Testing

/// Bad files and bad inputs give a DLError of the right kind with a message naming the fault.
@Suite struct LoadErrorTests {
    let scratch = ScratchFiles("dlinfer-tests")
    var tmp: String { scratch.folder }

    func write(_ name: String, _ bytes: [UInt8]) -> String { scratch.write(name, bytes) }

    func bytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

    func loadError(_ path: String, weights: String? = nil) -> DLError? {
        caughtDLError { _ = try Model(path: path, weightsPath: weights) }
    }

    /// The tf_keras Sequential CNN's architecture JSON, edited by `edit`, with its real weights.
    func editedArchitecture(_ edit: (inout [String: Any]) -> Void) throws -> DLError? {
        let dir = "\(Fixtures.root)/tf_keras_jw_seq_cnn"
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(dir)/model.json"))) as! [String: Any]
        edit(&json)
        let path = write("edited-\(UUID().uuidString).json", [UInt8](try JSONSerialization.data(withJSONObject: json)))
        return loadError(path, weights: "\(dir)/weights.h5")
    }

    func editLayer(_ json: inout [String: Any], _ index: Int, _ edit: (inout [String: Any]) -> Void) {
        var config = json["config"] as! [String: Any]
        var layers = config["layers"] as! [[String: Any]]
        edit(&layers[index])
        config["layers"] = layers
        json["config"] = config
    }

    @Test func missingFile() {
        let e = loadError("\(tmp)/does-not-exist.h5")
        #expect(e?.kind == .io)
        #expect(e?.message.contains("does-not-exist.h5") == true)
    }

    @Test func emptyAndGarbageFiles() {
        #expect(loadError(write("empty.h5", []))?.kind == .format)
        let e = loadError(write("garbage.h5", Array("this is not a model".utf8)))
        #expect(e?.kind == .format)
        #expect(e?.message.contains("not a Keras model file") == true)
    }

    @Test(arguments: ["tf_keras_cnn_classic/model.h5", "keras3_cnn_classic/model.keras", "keras20_seq_cnn/model.h5"])
    func truncatedFiles(_ file: String) throws {
        let full = try bytes("\(Fixtures.root)/\(file)")
        for fraction in [0.1, 0.5, 0.9, 0.99] {
            let cut = Array(full.prefix(Int(Double(full.count) * fraction)))
            let e = loadError(write("cut-\(fraction)-\(file.replacingOccurrences(of: "/", with: "_"))", cut))
            #expect(e != nil, "\(file) cut to \(fraction) loaded without error")
            #expect(e?.kind == .format || e?.kind == .weights, "\(e?.message ?? "")")
        }
    }

    @Test func corruptedWeights() throws {
        var b = try bytes("\(Fixtures.root)/tf_keras_cnn_classic/model.h5")
        // Overwrite the tail (weight data and metadata) with garbage.
        for i in stride(from: b.count / 2, to: b.count, by: 7) { b[i] = 0xA5 }
        let path = write("corrupt.h5", b)
        // Either the load is refused with a message, or (only weight bytes hit) the model loads
        // and runs to an output of the declared shape; never a crash or another error type.
        do {
            let m = try Model(path: path)
            let shape = m.inputs[0].shape.map { $0 < 0 ? 1 : $0 }
            let y = try Session(model: m).run([(shape, .float32([Float](repeating: 0.5, count: shape.reduce(1, *))))])
            #expect(y[0].shape == m.outputs[0].shape.map { $0 < 0 ? 1 : $0 })
        } catch let e as DLError {
            #expect(!e.message.isEmpty)
            #expect([.format, .weights, .unsupported, .shape].contains(e.kind), "\(e.kind): \(e.message)")
        }
    }

    @Test func weightsOnlyFileAsModel() {
        let e = loadError("\(Fixtures.root)/tf_keras_jw_seq_cnn/weights.h5")
        #expect(e?.kind == .invalidArgument)
        #expect(e?.message.contains("weights only") == true)
    }

    @Test func architectureWithoutWeights() {
        #expect(loadError("\(Fixtures.root)/tf_keras_jw_seq_cnn/model.json")?.kind == .invalidArgument)
    }

    @Test func unknownLayerClass() throws {
        let e = try editedArchitecture { json in editLayer(&json, 2) { $0["class_name"] = "FancyPooling" } }
        #expect(e?.kind == .unsupported)
        #expect(e?.message.contains("'max_pooling2d'") == true && e?.message.contains("FancyPooling") == true, "\(e?.message ?? "")")
    }

    @Test func unsupportedOption() throws {
        let e = try editedArchitecture { json in
            editLayer(&json, 1) { l in
                var c = l["config"] as! [String: Any]
                c["data_format"] = "channels_first"
                l["config"] = c
            }
        }
        #expect(e?.kind == .unsupported)
        #expect(e?.message.contains("'conv2d' (Conv2D): option data_format='channels_first'") == true, "\(e?.message ?? "")")
    }

    @Test func weightOfWrongShape() throws {
        let e = try editedArchitecture { json in
            editLayer(&json, 5) { l in
                var c = l["config"] as! [String: Any]
                c["units"] = (c["units"] as! Int) + 4
                l["config"] = c
            }
        }
        #expect(e?.kind == .weights)
        #expect(e?.message.contains("'dense' (Dense): weight 'kernel' has shape") == true, "\(e?.message ?? "")")
    }

    @Test func missingWeights() throws {
        let e = try editedArchitecture { json in
            editLayer(&json, 3) { l in
                var c = l["config"] as! [String: Any]
                c["name"] = "renamed_conv"
                l["config"] = c
            }
        }
        #expect(e?.kind == .weights)
        #expect(e?.message.contains("'renamed_conv' (Conv2D): weights missing") == true, "\(e?.message ?? "")")
    }

    @Test func extraWeight() throws {
        let e = try editedArchitecture { json in
            editLayer(&json, 1) { l in
                var c = l["config"] as! [String: Any]
                c["use_bias"] = false
                l["config"] = c
            }
        }
        #expect(e?.kind == .weights)
        #expect(e?.message.contains("holds 2 weight(s)") == true, "\(e?.message ?? "")")
    }

    @Test func badRunInputs() throws {
        let model = try Model(path: "\(Fixtures.root)/tf_keras_cnn_classic/model.h5")
        let shape = model.inputs[0].shape.map { $0 < 0 ? 1 : $0 }
        let n = shape.reduce(1, *)
        func runError(_ inputs: [(shape: [Int], data: InputData)]) -> DLError? {
            do { _ = try Session(model: model).run(inputs); return nil } catch let e as DLError { return e } catch { return nil }
        }
        #expect(runError([])?.kind == .shape)
        #expect(runError([(shape, .float32([Float](repeating: 0, count: n))), (shape, .float32([Float](repeating: 0, count: n)))])?.kind == .shape)
        let wrong = [shape[0], shape[1] + 1] + shape.dropFirst(2)
        let e = runError([(wrong, .float32([Float](repeating: 0, count: wrong.reduce(1, *))))])
        #expect(e?.kind == .shape)
        #expect(e?.message.contains("expects shape") == true)
        #expect(runError([(shape, .int32([Int32](repeating: 0, count: n)))])?.kind == .dtype)
        #expect(runError([(shape, .float32([Float](repeating: 0, count: n - 1)))])?.kind == .shape)
        #expect(runError([([0] + shape.dropFirst(), .float32([]))])?.kind == .shape)
        #expect(runError([(shape, .float32([Float](repeating: 0, count: n)))]) == nil)
    }

    @Test func weightLimitIsALoadOption() throws {
        let path = "\(Fixtures.root)/tf_keras_cnn_classic/model.h5"
        for limit in [0, -1] {
            #expect(throws: DLError.self) { _ = try Model(path: path, maxWeightBytes: limit) }
        }
        do {
            _ = try Model(path: path, maxWeightBytes: 1000)
            Issue.record("loaded over the weight limit")
        } catch let e as DLError {
            #expect(e.kind == .unsupported)
            #expect(e.message.contains("limit of 1000 bytes"), "\(e.message)")
        }
        #expect(Model.defaultMaxWeightBytes == 4 << 30)
        _ = try Model(path: path, maxWeightBytes: 1 << 20)
    }

    @Test func nanAndInfPropagate() throws {
        let model = try Model(path: "\(Fixtures.root)/tf_keras_cnn_classic/model.h5")
        let shape = model.inputs[0].shape.map { $0 < 0 ? 1 : $0 }
        var x = [Float](repeating: 0.5, count: shape.reduce(1, *))
        x[0] = .nan
        x[1] = .infinity
        let y = try Session(model: model).run([(shape, .float32(x))])
        #expect(y[0].data.contains { $0.isNaN }, "NaN input should reach the softmax output as in Keras")
    }
}
