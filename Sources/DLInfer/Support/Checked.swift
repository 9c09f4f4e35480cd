/// Overflow-checked shape arithmetic for sizes that come from model files and run inputs.
/// Any dimension or element count past `maxElements` is refused rather than wrapped.
let maxElements = 1 << 40

func checkedMul(_ a: Int, _ b: Int) throws -> Int {
    let (p, o) = a.multipliedReportingOverflow(by: b)
    guard !o, p <= maxElements, p >= -maxElements else { throw DLError.shape("size \(a) x \(b) is too large") }
    return p
}

func checkedAdd(_ a: Int, _ b: Int) throws -> Int {
    let (s, o) = a.addingReportingOverflow(b)
    guard !o, s <= maxElements, s >= -maxElements else { throw DLError.shape("size \(a) + \(b) is too large") }
    return s
}

/// Element count of a fully known shape, checked.
func checkedCount(_ shape: Shape) throws -> Int {
    var n = 1
    for d in shape {
        guard d >= 0 else { throw DLError.shape("shape \(shape.described) has an unknown or negative dimension") }
        n = try checkedMul(n, d)
    }
    return n
}

/// The greatest common divisor of two channel counts (the tap width of a conv summed with its
/// shortcut, ConvParams.shortcut).
func greatestCommonDivisor(_ a: Int, _ b: Int) -> Int { b == 0 ? a : greatestCommonDivisor(b, a % b) }
