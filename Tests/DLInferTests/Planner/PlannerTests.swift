@testable import DLInfer
import Testing

/// The memory planner: buffers alive at the same time never overlap; reshapes are views;
/// elementwise ops whose input dies run in place; the arena is smaller than one buffer per value.
@Suite struct PlannerTests {
    @Test func noLiveOverlapOnRandomLifetimes() throws {
        var rng = SplitMix(seed: 3)
        for _ in 0..<50 {
            let buffers = (0..<40).map { _ -> MemoryPlanner.Buffer in
                let a = Int(rng.next() % 30) - 1, b = Int(rng.next() % 30) - 1
                return MemoryPlanner.Buffer(size: Int(rng.next() % 5000) + 1, first: min(a, b), last: max(a, b))
            }
            let (offsets, total) = try MemoryPlanner.place(buffers)
            for i in buffers.indices {
                #expect(offsets[i] % MemoryPlanner.alignment == 0)
                #expect(offsets[i] + buffers[i].size <= total)
                for j in buffers.indices where j > i {
                    let live = buffers[i].first <= buffers[j].last && buffers[j].first <= buffers[i].last
                    let overlap = offsets[i] < offsets[j] + buffers[j].size && offsets[j] < offsets[i] + buffers[i].size
                    #expect(!(live && overlap), "buffers \(i) and \(j) are alive together and overlap")
                }
            }
        }
    }

    @Test func viewsInPlaceAndReuse() throws {
        var h = GraphHarness()
        let x = h.input([-1, 8, 8, 4])
        let a = try h.add(.unary(.relu), [x])              // in place over the input
        let c = try h.add(.conv(ConvParams(window: Window(rank: 2, kh: 1, kw: 1, sh: 1, sw: 1, padding: .valid), groups: 1,
                                           weights: h.const([1, 1, 4, 4]), epilogue: Epilogue())), [a])
        let b = try h.add(.unary(.sigmoid), [c])           // in place over the conv output
        let f = try h.add(.reshape(.flatten), [b])         // a view
        h.output(try h.add(.unary(.tanh), [f]))
        let sizes = h.g.values.map { $0.shape.map { max($0, 1) }.reduce(4, *) }
        let a1 = try MemoryPlanner.assign(h.g, sizes: sizes, scratch: [Int](repeating: 0, count: h.g.nodes.count))
        #expect(a1.views == 1)
        #expect(a1.inPlace == 3)
        #expect(a1.valueOffsets[a] == a1.valueOffsets[x])
        #expect(a1.valueOffsets[f] == a1.valueOffsets[b])
        #expect(a1.totalBytes <= 2 * 8 * 8 * 4 * 4 + 64, "two buffers suffice: \(a1.totalBytes) bytes")
        var rng = SplitMix(seed: 5)
        let input = (0..<256).map { _ in rng.uniform() }
        let y = try GraphHarness.run(h.g, [input], shapes: [[1, 8, 8, 4]])
        #expect(y[0].count == 256 && y[0].allSatisfy { $0 > -1 && $0 < 1 })
    }

    /// A 1x1 conv writes over its fused residual when nothing reads the residual after it, and
    /// gives the same numbers as into a buffer of its own (the residual kept alive as an output).
    @Test func pointwiseConvWritesOverItsResidual() throws {
        var outputs: [[Float]] = []
        for keepResidual in [false, true] {
            var h = GraphHarness()
            let x = h.input([-1, 7, 5, 300])
            let r = try h.add(.unary(.tanh), [x])
            let conv = ConvParams(window: Window(rank: 2, kh: 1, kw: 1, sh: 1, sw: 1, padding: .valid), groups: 1,
                                  weights: h.const([1, 1, 300, 300]), epilogue: Epilogue(bias: h.const([300]), residual: true, activation: .relu))
            let y = try h.add(.conv(conv), [x, r])
            h.output(y)
            if keepResidual { h.output(r) }
            let sizes = h.g.values.map { $0.shape.map { max($0, 1) }.reduce(4, *) }
            let a = try MemoryPlanner.assign(h.g, sizes: sizes, scratch: [Int](repeating: 0, count: h.g.nodes.count))
            #expect((a.valueOffsets[y] == a.valueOffsets[r]) == !keepResidual, "keepResidual \(keepResidual): \(a.valueOffsets)")
            #expect(a.inPlace == (keepResidual ? 0 : 1), "the conv over tanh's output unless that is an output (the conv reads x)")
            var rng = SplitMix(seed: 11)
            let input = (0..<(7 * 5 * 300)).map { _ in rng.uniform() }
            outputs.append(try GraphHarness.run(h.g, [input], shapes: [[1, 7, 5, 300]])[0])
        }
        #expect(outputs[0] == outputs[1], "in place and not give the same output")
        #expect(outputs[0].contains { $0 > 0 } && outputs[0].allSatisfy { $0 >= 0 })
    }

    @Test func outputsAreNotOverwritten() throws {
        var h = GraphHarness()
        let x = h.input([-1, 16])
        let first = try h.add(.unary(.relu), [x])
        h.output(first)
        h.output(try h.add(.unary(.negative), [first]))
        let sizes = h.g.values.map { $0.shape.map { max($0, 1) }.reduce(4, *) }
        let a = try MemoryPlanner.assign(h.g, sizes: sizes, scratch: [0, 0])
        #expect(a.valueOffsets[first] != a.valueOffsets[h.g.outputs[1]], "an output must survive the run")
        let input = (0..<16).map { Float($0) - 8 }
        let y = try GraphHarness.run(h.g, [input], shapes: [[1, 16]])
        #expect(y[0] == input.map { max($0, 0) })
        #expect(y[1] == input.map { -max($0, 0) })
    }

    /// A one-image kernel-row conv keeps its table from run to run (persistent plan memory) and
    /// fills only the edge columns' patches again: a later run on another image must match a
    /// fresh session on that image bit for bit (stale patches would carry the first image's
    /// edges), at one and two threads.
    @Test func keptKernelRowTableServesLaterInputs() throws {
        let name = "keras3_resnet_small"
        let m = try Fixtures.manifest(name)
        let model = try Model(path: "\(Fixtures.root)/\(name)/\(m.model)")
        let a = try NpyArray(path: "\(Fixtures.root)/\(name)/\(m.inputs[0])")
        guard case .float32(let x) = a.values, a.shape[0] == 2 else { Issue.record("two float images expected"); return }
        let ref = try NpyArray(path: "\(Fixtures.root)/\(name)/\(m.outputs[0])").floats
        let shape = [1] + a.shape.dropFirst(), size = x.count / 2, classes = ref.count / 2
        let images = [Array(x[..<size]), Array(x[size...])]
        #expect(model.compiled.ops.contains { $0.label.contains("kernel-row") }, "the fixture must have a kernel-row conv")
        for threads in [1, 2] {
            let session = try Session(model: model, options: SessionOptions(threads: threads))
            var outputs: [[Float]] = []
            for i in [0, 1, 0, 1] { outputs.append(try session.run([(shape, .float32(images[i]))])[0].data) }
            for i in 0..<2 {
                let fresh = try Session(model: model, options: SessionOptions(threads: threads)).run([(shape, .float32(images[i]))])[0].data
                #expect(outputs[i] == fresh && outputs[i + 2] == fresh, "\(threads) threads, image \(i): a later run differs from a fresh session")
                let miss = Fixtures.compare(fresh, Array(ref[(i * classes)..<((i + 1) * classes)]), m.tolerance, argmaxClasses: nil)
                #expect(miss == nil, "\(threads) threads, image \(i): \(miss ?? "")")
            }
            #expect(outputs[0] != outputs[1], "the two images must give different outputs")
        }
    }
}
