import CDLInferABI
import DLInfer
import Glibc

/// Thread-local last-error message, as a C string owned by the thread.
private let errorKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key) { free($0) }
    return key
}()

private let emptyMessage: UnsafeMutablePointer<CChar> = strdup("")!

func setLastError(_ message: String) {
    if let old = pthread_getspecific(errorKey) { free(old) }
    pthread_setspecific(errorKey, strdup(message))
}

func lastErrorPointer() -> UnsafePointer<CChar> {
    guard let p = pthread_getspecific(errorKey) else { return UnsafePointer(emptyMessage) }
    return UnsafePointer(p.assumingMemoryBound(to: CChar.self))
}

func status(_ kind: DLError.Kind) -> dl_status { dl_status(rawValue: UInt32(kind.rawValue)) }

/// Runs an ABI call body, turning every thrown error into a status plus message.
func guarded(_ body: () throws -> Void) -> dl_status {
    do {
        try body()
        return DL_OK
    } catch let e as DLError {
        setLastError(e.message)
        return status(e.kind)
    } catch {
        setLastError("internal error: \(error)")
        return DL_ERR_INTERNAL
    }
}

func invalid(_ message: String) -> DLError { DLError(.invalidArgument, message) }
