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

/// What a dl_session* points to: the session (whose plans own the borrowed outputs) and the
/// C strings of the last profile snapshot.
final class SessionHandle {
    let model: ModelHandle
    let session: Session
    private(set) var profile: [(entry: ProfileEntry, op: UnsafeMutablePointer<CChar>, layers: UnsafeMutablePointer<CChar>)] = []

    init(_ model: ModelHandle, options: SessionOptions) throws {
        self.model = model
        session = try Session(model: model.model, options: options)
    }

    func snapshotProfile() {
        freeProfile()
        profile = session.profile().map { ($0, strdup($0.op)!, strdup($0.layers.joined(separator: ", "))!) }
    }

    private func freeProfile() {
        profile.forEach { free($0.op); free($0.layers) }
        profile = []
    }

    deinit { freeProfile() }

    static func from(_ p: OpaquePointer?) -> SessionHandle? {
        guard let p else { return nil }
        return Unmanaged<SessionHandle>.fromOpaque(UnsafeRawPointer(p)).takeUnretainedValue()
    }
}
