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
    @Test(arguments: ["keras3_mobilenetv2_035", "keras3_resnet_small", "keras3_xception_small", "tf_keras_cnn_classic",
                      "keras3_conv2d_shortcut_fused_h5"])
    func threadedSessionsMatchSerialBitForBit(_ name: String) throws {
        let dir = "\(Fixtures.root)/\(name)"
        let m = try Fixtures.manifest(name)
        let model = try Model(path: "\(dir)/\(m.model)")
        let x = try NpyArray(path: "\(dir)/\(m.inputs[0])")
        // Enough images that the run is worth threads (Plan.parallelMinTotalFlops); checked below.
        let copies = name.hasSuffix("cnn_classic") || name.contains("shortcut") ? 64 : 16
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
        #expect(wrong == 0, "\(wrong) of 50000 jobs returned before all their pieces ran")
    }

    /// Owners take rows from their region's front, others from the back of the fullest region;
    /// every row is taken exactly once, also when four threads race for them.
    @Test func rowClaimsHandOutEveryRowOnce() throws {
        let memory = UnsafeMutableRawPointer.allocate(byteCount: try RowClaims.bytes(regions: 4), alignment: 64)
        defer { memory.deallocate() }
        let claims = RowClaims(base: memory, regions: 2)
        claims.reset(0, 0..<10)
        claims.reset(1, 10..<14)
        #expect(claims.front(0, upTo: 3) == 0..<3)
        #expect(claims.back(0, upTo: 4) == 6..<10)
        #expect(claims.fullest() == 1)
        #expect(claims.back(1, upTo: 5) == 10..<14)
        #expect(claims.front(1, upTo: 1) == nil)
        #expect(claims.fullest() == 0)
        #expect(claims.front(0, upTo: 2) == 3..<5)
        #expect(claims.back(0, upTo: 2) == 5..<6)
        #expect(claims.fullest() == nil && claims.front(0, upTo: 1) == nil && claims.back(0, upTo: 1) == nil)

        let racing = RowClaims(base: memory, regions: 4)
        let rows = 10_007
        let taken = UnsafeMutablePointer<Int>.allocate(capacity: rows)
        defer { taken.deallocate() }
        for round in 0..<20 {
            taken.initialize(repeating: 0, count: rows)
            for i in 0..<4 { racing.reset(i, (rows * i / 4)..<(rows * (i + 1) / 4)) }
            struct Args { let claims: RowClaims; let taken: UnsafeMutablePointer<Int>; let step: Int }
            var args = Args(claims: racing, taken: taken, step: 1 + round % 7)
            let pool = try ThreadPool(threads: 4)
            pool.parallel(4, &args) { raw, i in
                let a = raw.assumingMemoryBound(to: Args.self).pointee
                while let r = a.claims.front(i, upTo: a.step) { for row in r { a.taken[row] += 1 } }
                while let other = a.claims.fullest() {
                    guard let r = a.claims.back(other, upTo: a.step + 1) else { continue }
                    for row in r { a.taken[row] += 1 }
                }
            }
            let wrong = (0..<rows).filter { taken[$0] != 1 }
            #expect(wrong.isEmpty, "round \(round): rows taken other than once: \(wrong.prefix(5))")
        }
    }

    /// Pieces cover the rows in order, aligned, shrinking, and none smaller than asked (but the last).
    @Test func rowSplitPiecesShrinkAndCoverTheRows() {
        for (rows, threads, align, minimum) in [(3136, 2, 6, 24), (49, 2, 6, 24), (36, 2, 1, 1), (196, 3, 1, 4), (5, 2, 6, 24),
                                                (0, 2, 6, 24), (1000, 1, 6, 24), (12544, 4, 6, 24)] {
            let split = RowSplit(rows: rows, threads: threads, align: align, minimumRows: minimum)
            var next = 0, previous = Int.max
            for i in 0..<split.count {
                let r = split.range(i)
                #expect(r.lowerBound == next && !r.isEmpty, "\(rows) rows, piece \(i): \(r)")
                #expect(r.upperBound == rows || (r.count % align == 0 && r.count >= minimum && r.count <= previous),
                        "\(rows) rows, \(threads) threads, piece \(i): \(r)")
                next = r.upperBound
                previous = r.count
            }
            #expect(next == rows, "\(rows) rows: pieces end at \(next)")
            if threads == 1 { #expect(split.count == min(rows, 1)) }
        }
        #expect(RowSplit(rows: 3136, threads: 2).count > 4, "shrinking pieces, more than two per thread")
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
