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

/// An immutable loaded and compiled model; shareable across threads, run through Sessions.
public final class Model: @unchecked Sendable {
    let compiled: CompiledModel
    public let inputs: [TensorInfo]
    public let outputs: [TensorInfo]
    /// What the graph passes did (one line per pass that changed something).
    public let optimizationReport: [String]

    /// Default of `maxWeightBytes`: 4 GiB.
    public static let defaultMaxWeightBytes = KerasLoader.defaultMaxWeightBytes

    /// Loads a Keras model file (see KerasLoader for the forms). `kerasVersion` applies when the
    /// file does not record which Keras wrote it. `maxWeightBytes` bounds the float32 weights the
    /// file may make the loader read and each member it inflates from a .keras archive; a file
    /// needing more is refused (DLError .unsupported naming the limit).
    public convenience init(path: String, weightsPath: String? = nil, kerasVersion: String? = nil,
                maxWeightBytes: Int = Model.defaultMaxWeightBytes) throws {
        guard maxWeightBytes > 0 else { throw DLError(.invalidArgument, "maxWeightBytes must be positive, got \(maxWeightBytes)") }
        try self.init(graph: KerasLoader.load(path: path, weightsPath: weightsPath, kerasVersion: kerasVersion, maxWeightBytes: maxWeightBytes))
    }

    /// Loads a model from bytes in memory: any form `init(path:)` accepts, with `weights` holding
    /// the weights file's bytes when `data` is an architecture JSON (nil otherwise). Nothing is
    /// written to disk; the same limits apply.
    public convenience init(data: [UInt8], weights: [UInt8]? = nil, kerasVersion: String? = nil,
                            maxWeightBytes: Int = Model.defaultMaxWeightBytes) throws {
        guard maxWeightBytes > 0 else { throw DLError(.invalidArgument, "maxWeightBytes must be positive, got \(maxWeightBytes)") }
        try self.init(graph: KerasLoader.load(data: data, weights: weights, kerasVersion: kerasVersion, maxWeightBytes: maxWeightBytes))
    }

    /// Tests: a model whose depthwise convs chain with their expand/project convs from
    /// `fuseBandsAbove` bytes of tensor between them (Int.max: never), in bands of `bandFloats`,
    /// `regionsPerThread` regions of rows per thread (Passes.optimize), to reach several bands
    /// with small fixtures, bands taken from other regions, and the unfused ops.
    convenience init(path: String, fuseBandsAbove: Int, bandFloats: Int, regionsPerThread: Int = 1) throws {
        try self.init(graph: KerasLoader.load(path: path, weightsPath: nil, kerasVersion: nil, maxWeightBytes: Model.defaultMaxWeightBytes),
                      fuseBandsAbove: fuseBandsAbove, bandFloats: bandFloats, regionsPerThread: regionsPerThread)
    }

    private init(graph: consuming IRGraph, fuseBandsAbove: Int = FuseDepthwiseChain.defaultMinimumBytes,
                 bandFloats: Int = FuseDepthwiseChain.defaultBandFloats, regionsPerThread: Int = 1) throws {
        var graph = graph
        optimizationReport = try Passes.optimize(&graph, fuseBandsAbove: fuseBandsAbove, bandFloats: bandFloats,
                                                 regionsPerThread: regionsPerThread)
        inputs = zip(graph.inputs, graph.inputNames).map { v, name in
            TensorInfo(name: name, dtype: graph.values[v].type == .i32 ? .int32 : .float32, shape: graph.values[v].shape)
        }
        outputs = zip(graph.outputs, graph.outputNames).map { v, name in
            TensorInfo(name: name, dtype: .float32, shape: graph.values[v].shape)
        }
        compiled = try Compiler.compile(consume graph)
    }

    /// The instruction-set tier whose kernels the model was compiled for (avx512, avx2, scalar).
    public var kernels: String { compiled.kernels.tier.rawValue }

    /// The optimised graph, one node per line (for tools and debugging).
    public var graphDump: String { compiled.graph.dump() }
}
