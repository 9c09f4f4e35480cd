import DLInfer
import Dispatch
import Testing

/// A loaded model is shared by threads, each with its own session, and gives every thread
/// Keras' answer.
@Suite struct ConcurrencyTests {
    @Test func sharedModelAcrossThreads() throws {
        let dir = "\(Fixtures.root)/keras3_resnet_small"
        let m = try Fixtures.manifest("keras3_resnet_small")
        let model = try Model(path: "\(dir)/\(m.model)")
        let x = try NpyArray(path: "\(dir)/\(m.inputs[0])")
        let ref = try NpyArray(path: "\(dir)/\(m.outputs[0])")
        let failures = Failures()
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            let session = Session(model: model)
            for _ in 0..<5 {
                do {
                    let y = try session.run([(x.shape, .float32(x.floats))])
                    if let miss = Fixtures.compare(y[0].data, ref.floats, m.tolerance, argmaxClasses: nil) {
                        failures.add(miss)
                    }
                } catch {
                    failures.add("\(error)")
                }
            }
        }
        #expect(failures.all.isEmpty, "\(failures.all.prefix(3))")
    }
}

/// Collects messages from several threads.
final class Failures: @unchecked Sendable {
    private let queue = DispatchQueue(label: "failures")
    private var items: [String] = []
    func add(_ s: String) { queue.sync { items.append(s) } }
    var all: [String] { queue.sync { items } }
}
