import DLInfer
import Testing

/// The DLError `body` throws, or nil if it succeeds; any other error is recorded as a test issue.
func caughtDLError(_ body: () throws -> Void) -> DLError? {
    do {
        try body()
        return nil
    } catch let e as DLError {
        return e
    } catch {
        Issue.record("unexpected error type \(error)")
        return nil
    }
}
