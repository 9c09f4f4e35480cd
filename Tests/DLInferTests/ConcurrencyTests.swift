@testable import DLInfer
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
            guard let session = try? Session(model: model) else { failures.add("session"); return }
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

/// Intra-op threads split convolutions and dense layers by rows: every element is computed by one
/// thread in the same order, so results are bit-identical to one thread's, also with several
/// multi-threaded sessions running at once.
@Suite struct IntraOpThreadTests {
    @Test(arguments: ["keras3_mobilenetv2_035", "keras3_resnet_small", "keras3_xception_small", "tf_keras_cnn_classic"])
    func threadedSessionsMatchSerialBitForBit(_ name: String) throws {
        let dir = "\(Fixtures.root)/\(name)"
        let m = try Fixtures.manifest(name)
        let model = try Model(path: "\(dir)/\(m.model)")
        let x = try NpyArray(path: "\(dir)/\(m.inputs[0])")
        // Enough images that the run is worth threads (Plan.parallelMinTotalFlops); checked below.
        let copies = name.hasSuffix("cnn_classic") ? 64 : 16
        let batch = [x.shape[0] * copies] + x.shape.dropFirst()
        let input: [(shape: [Int], data: InputData)] = [(batch, .float32(Array(repeating: x.floats, count: copies).flatMap { $0 }))]
        let serial = try Session(model: model).run(input)
        let ref = try NpyArray(path: "\(dir)/\(m.outputs[0])")
        #expect(Fixtures.compare(Array(serial[0].data.prefix(ref.floats.count)), ref.floats, m.tolerance, argmaxClasses: nil) == nil)
        let failures = Failures()
        DispatchQueue.concurrentPerform(iterations: 3) { i in
            do {
                let session = try Session(model: model, options: SessionOptions(threads: 2 + i))
                for _ in 0..<3 {
                    let y = try session.run(input)
                    if y[0].data != serial[0].data { failures.add("\(2 + i) threads differ from one thread") }
                    if !session.usesThreads { failures.add("\(2 + i) threads: the plan runs on one thread (too small?)") }
                }
            } catch {
                failures.add("\(error)")
            }
        }
        #expect(failures.all.isEmpty, "\(failures.all.prefix(3))")
    }

    @Test func threadCountIsChecked() throws {
        let model = try Model(path: "\(Fixtures.root)/keras3_cnn_classic/model.keras")
        #expect(throws: DLError.self) { try Session(model: model, options: SessionOptions(threads: 0)) }
        #expect(throws: DLError.self) { try Session(model: model, options: SessionOptions(threads: 100_000)) }
    }
}

/// Collects messages from several threads.
final class Failures: @unchecked Sendable {
    private let queue = DispatchQueue(label: "failures")
    private var items: [String] = []
    func add(_ s: String) { queue.sync { items.append(s) } }
    var all: [String] { queue.sync { items } }
}
