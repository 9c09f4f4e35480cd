/// Element type of an IR value. f32 and i32 are executed today; i8/u8 carry quantization
/// parameters once int8 lands.
enum ElementType: UInt8 {
    case f32, i32, i8, u8

    var byteSize: Int {
        switch self {
        case .f32, .i32: return 4
        case .i8, .u8: return 1
        }
    }
}

/// Per-tensor (axis nil, one scale) or per-channel quantization of an i8/u8 value.
struct QuantParams: Equatable {
    var scales: [Float]
    var zeroPoints: [Int32]
    var axis: Int?
}

typealias ValueID = Int
typealias ConstID = Int

/// A value of the graph: its type, its shape (-1 for a dimension known only at run time) and,
/// for values whose data is known at load time, the constant holding it.
struct ValueInfo {
    var type: ElementType
    var shape: Shape
    var quant: QuantParams? = nil
    var constant: ConstID? = nil
    /// The value holding this one's Keras mask (u8, one per timestep), once masking layers exist.
    var mask: ValueID? = nil
}

/// Load-time data: weights and constants from the model file, and those passes derive.
struct ConstTensor {
    var shape: [Int]
    var data: [Float]
    var count: Int { data.count }
}

/// Values that persist across runs of one session (recurrent state, a KV cache): `next` is
/// computed by the graph and becomes `current` for the following run. No Keras layer that
/// needs one is supported yet.
struct StateBinding {
    var current: ValueID
    var next: ValueID
}
