/// Element types at the model boundary.
public enum DType: Int32 {
    case float32 = 1
    case int32 = 2
}

/// Name, dtype and shape (-1 for run-time dimensions) of a model input or output.
public struct TensorInfo {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
}

/// A run input as the caller gives it.
public enum InputData {
    case float32([Float])
    case int32([Int32])
}

/// An immutable loaded model; shareable across threads.
public final class Model: @unchecked Sendable {
    let graph: Graph
    public let inputs: [TensorInfo]
    public let outputs: [TensorInfo]

    /// Loads a Keras model file (see KerasLoader for the forms). `kerasVersion` applies when the
    /// file does not record which Keras wrote it.
    public init(path: String, weightsPath: String? = nil, kerasVersion: String? = nil) throws {
        graph = try KerasLoader.load(path: path, weightsPath: weightsPath, kerasVersion: kerasVersion)
        inputs = graph.inputPorts.map { TensorInfo(name: $0.name, dtype: $0.isInt32 ? .int32 : .float32, shape: $0.shape) }
        outputs = graph.outputPorts.map { TensorInfo(name: $0.name, dtype: .float32, shape: $0.shape) }
    }

    /// Checks dtypes and shapes, then runs. Integer inputs are exact up to 2^24 once in float32,
    /// as Keras' own cast to the float compute dtype does.
    public func run(_ inputs: [(shape: [Int], data: InputData)]) throws -> [Tensor] {
        guard inputs.count == self.inputs.count else {
            throw DLError.shape("model takes \(self.inputs.count) input(s), got \(inputs.count)")
        }
        var tensors: [Tensor] = []
        for (i, (input, info)) in zip(inputs, self.inputs).enumerated() {
            var count = 1
            for d in input.shape {
                guard d >= 0 else { throw DLError.shape("input \(i) ('\(info.name)') has a negative dimension in \(input.shape)") }
                let (p, o) = count.multipliedReportingOverflow(by: d)
                guard !o else { throw DLError.shape("input \(i) ('\(info.name)') shape \(input.shape) overflows") }
                count = p
            }
            guard count > 0 else { throw DLError.shape("input \(i) ('\(info.name)') is empty (shape \(input.shape))") }
            switch (input.data, info.dtype) {
            case (.float32(let d), .float32):
                guard d.count == count else { throw DLError.shape("input \(i) ('\(info.name)'): \(d.count) values for shape \(input.shape)") }
                tensors.append(Tensor(shape: input.shape, data: d))
            case (.int32(let d), .int32):
                guard d.count == count else { throw DLError.shape("input \(i) ('\(info.name)'): \(d.count) values for shape \(input.shape)") }
                tensors.append(Tensor(shape: input.shape, data: d.map { Float($0) }))
            case (.float32, .int32):
                throw DLError(.dtype, "input \(i) ('\(info.name)') expects int32, got float32")
            case (.int32, .float32):
                throw DLError(.dtype, "input \(i) ('\(info.name)') expects float32, got int32")
            }
        }
        try graph.validate(tensors)
        return try graph.run(tensors)
    }
}

/// Per-thread run state: holds the outputs of the last run.
public final class Session {
    public let model: Model
    public private(set) var outputs: [Tensor] = []

    public init(model: Model) { self.model = model }

    public func run(_ inputs: [(shape: [Int], data: InputData)]) throws {
        outputs = []
        outputs = try model.run(inputs)
    }
}
