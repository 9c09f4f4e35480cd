import CDLInferABI
import DLInfer
import Glibc

/// What a dl_model* points to: the model plus C strings for its port names.
final class ModelHandle {
    let model: Model
    let inputNames: [UnsafeMutablePointer<CChar>]
    let outputNames: [UnsafeMutablePointer<CChar>]

    init(_ model: Model) {
        self.model = model
        inputNames = model.inputs.map { strdup($0.name)! }
        outputNames = model.outputs.map { strdup($0.name)! }
    }

    deinit {
        (inputNames + outputNames).forEach { free($0) }
    }

    static func from(_ p: OpaquePointer?) -> ModelHandle? {
        guard let p else { return nil }
        return Unmanaged<ModelHandle>.fromOpaque(UnsafeRawPointer(p)).takeUnretainedValue()
    }
}

/// What a dl_session* points to. Outputs are copied into buffers the session owns, so borrowed
/// pointers stay valid until the next run.
final class SessionHandle {
    let model: ModelHandle
    let session: Session
    var outputs: [(shape: [Int], data: UnsafeMutableBufferPointer<Float>)] = []

    init(_ model: ModelHandle) {
        self.model = model
        session = Session(model: model.model)
    }

    func clearOutputs() {
        outputs.forEach { $0.data.deallocate() }
        outputs = []
    }

    deinit { clearOutputs() }

    static func from(_ p: OpaquePointer?) -> SessionHandle? {
        guard let p else { return nil }
        return Unmanaged<SessionHandle>.fromOpaque(UnsafeRawPointer(p)).takeUnretainedValue()
    }
}
