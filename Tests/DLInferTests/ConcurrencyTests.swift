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

    /// Jobs of alternating sizes back to back: every piece of a job has run when `parallel`
    /// returns, and no piece of the next job runs early (a worker still in the previous job once
    /// compared its old index with the new job's count and ran a piece before it was published).
    @Test func poolRunsEveryPieceOfEachJobBeforeReturning() throws {
        struct Args { let marks: UnsafeMutablePointer<Int>; let job: Int }
        let pool = try ThreadPool(threads: 3)
        let marks = UnsafeMutablePointer<Int>.allocate(capacity: 64)
        defer { marks.deallocate() }
        marks.initialize(repeating: -1, count: 64)
        var wrong = 0
        pool.beginRun()
        for job in 0..<50_000 {
            let count = job % 2 == 0 ? 2 : 37
            var args = Args(marks: marks, job: job)
            pool.parallel(count, &args) { raw, i in
                let a = raw.assumingMemoryBound(to: Args.self).pointee
                // A little work, so a piece that started early is still running when it matters.
                var x = UInt64(truncatingIfNeeded: i &+ 1)
                for _ in 0..<300 { x = x &* 6364136223846793005 &+ 1442695040888963407 }
                a.marks[i] = x == 0 ? -2 : a.job
            }
            if (0..<count).contains(where: { marks[$0] != job }) { wrong += 1 }
        }
        pool.endRun()
        #expect(wrong == 0, "\(wrong) of 50000 jobs returned before all their pieces ran")
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
