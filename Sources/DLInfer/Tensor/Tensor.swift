/// A dense float32 tensor in row-major order. Value semantics (copy on write) through the array.
public struct Tensor {
    public var shape: [Int]
    public var data: [Float]

    public init(shape: [Int], data: [Float]) {
        self.shape = shape
        self.data = data
    }
    public init(zeros shape: [Int]) {
        self.shape = shape
        self.data = [Float](repeating: 0, count: shape.reduce(1, *))
    }
    public init(shape: [Int], repeating value: Float) {
        self.shape = shape
        self.data = [Float](repeating: value, count: shape.reduce(1, *))
    }
    public var count: Int { data.count }
    public var rank: Int { shape.count }
}

/// Shapes as the graph sees them: -1 for a dimension fixed only at run time (batch, or None in Keras).
typealias Shape = [Int]

extension Array where Element == Int {
    var described: String { "(" + map { $0 < 0 ? "None" : String($0) }.joined(separator: ", ") + ")" }
}

/// Normalises a possibly negative axis for a tensor of `rank`.
func normalizeAxis(_ axis: Int, rank: Int) throws -> Int {
    let a = axis < 0 ? axis + rank : axis
    guard a >= 0 && a < rank else {
        throw DLError.shape("axis \(axis) out of range for rank \(rank)")
    }
    return a
}
