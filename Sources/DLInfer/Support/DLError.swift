/// Every failure the engine reports. The C surface maps `kind` to a status code and `message`
/// to dl_last_error(); messages name the file, layer, tensor or shape at fault.
public struct DLError: Error, CustomStringConvertible {
    public enum Kind: Int32 {
        case invalidArgument = 1, io, format, unsupported, weights, shape, dtype, `internal`
    }
    public let kind: Kind
    public let message: String
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
    public var description: String { message }

    static func format(_ m: String) -> DLError { DLError(.format, m) }
    static func unsupported(_ m: String) -> DLError { DLError(.unsupported, m) }
    static func weights(_ m: String) -> DLError { DLError(.weights, m) }
    static func shape(_ m: String) -> DLError { DLError(.shape, m) }

    /// Prefixes the message with context ("layer 'conv1' (Conv2D): ...") keeping the kind.
    func within(_ context: String) -> DLError { DLError(kind, "\(context): \(message)") }
}

/// Runs `body`, re-throwing its DLError with `context` prepended.
@inline(__always)
func withContext<T>(_ context: @autoclosure () -> String, _ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as DLError { throw e.within(context()) }
}
