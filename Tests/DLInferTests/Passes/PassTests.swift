@testable import DLInfer
import Testing

/// Each pass on a small graph: it rewrites what it should, leaves alone what it must, and the
/// rewritten graph computes the same values as the original.
@Suite struct PassTests {
    private func equivalent(_ before: IRGraph, _ after: IRGraph, shape: [Int]) throws {
        var rng = SplitMix(seed: 11)
        let x = (0..<shape.reduce(1, *)).map { _ in rng.uniform() * 2 }
        let a = try GraphHarness.run(before, [x], shapes: [shape]), b = try GraphHarness.run(after, [x], shapes: [shape])
        for (u, v) in zip(a, b) { #expect(maxDifference(u, v) <= 1e-5, "outputs differ by \(maxDifference(u, v)): \(u) vs \(v)") }
    }

    private func conv(_ h: inout GraphHarness, cin: Int, cout: Int, k: Int = 3, padding: PaddingSpec = .same) -> Op {
        .conv(ConvParams(window: Window(rank: 2, kh: k, kw: k, sh: 1, sw: 1, padding: padding), groups: 1,
                         weights: h.const([k, k, cin, cout]), epilogue: Epilogue(bias: h.const([cout]))))
    }

    @Test func eliminateIdentity() throws {
        var h = GraphHarness()
        let x = h.input([-1, 4, 4, 3])
        let a = try h.add(.identity, [x])
        let b = try h.add(.unary(.linear), [a])
        h.output(try h.add(.unary(.relu), [b]))
        var g = h.g
        #expect(EliminateIdentity.run(&g) == 2)
        #expect(g.nodes.count == 1 && g.nodes[0].inputs == [x])
        try equivalent(h.g, g, shape: [1, 4, 4, 3])
    }

    @Test func identityBetweenInputAndOutput() throws {
        var h = GraphHarness()
        let x = h.input([-1, 5])
        h.output(try h.add(.identity, [x]))
        var g = h.g
        #expect(EliminateIdentity.run(&g) == 1)
        #expect(g.nodes.isEmpty && g.outputs == [x])
        try equivalent(h.g, g, shape: [2, 5])
    }

    @Test func foldBatchNormIntoConvDepthwiseDense() throws {
        var h = GraphHarness()
        let x = h.input([-1, 6, 6, 3])
        let c = try h.add(conv(&h, cin: 3, cout: 4), [x])
        let bn1 = try h.add(.affine(AffineParams(axis: -1, scale: h.const([4]), shift: h.const([4]))), [c])
        let d = try h.add(.depthwise(DepthwiseParams(window: Window(rank: 2, kh: 3, kw: 3, sh: 2, sw: 2, padding: .same), multiplier: 2,
                                                     weights: h.const([3, 3, 4, 2]), epilogue: Epilogue())), [bn1])
        let bn2 = try h.add(.affine(AffineParams(axis: 3, scale: h.const([8]), shift: h.const([8]))), [d])
        let f = try h.add(.reshape(.flatten), [bn2])
        let dense = try h.add(.dense(DenseParams(weights: h.const([72, 5]), epilogue: Epilogue())), [f])
        h.output(try h.add(.affine(AffineParams(axis: -1, scale: h.const([1]), shift: h.const([1]))), [dense]))
        var g = h.g
        #expect(FoldBatchNorm.run(&g) == 3)
        #expect(count(g, "affine") == 0)
        try equivalent(h.g, g, shape: [2, 6, 6, 3])
    }

    @Test func batchNormStaysWhereItCannotFold() throws {
        var h = GraphHarness()
        let x = h.input([-1, 6, 6, 3])
        let lone = try h.add(.affine(AffineParams(axis: -1, scale: h.const([3]), shift: h.const([3]))), [x])
        let c = try h.add(conv(&h, cin: 3, cout: 4), [lone])
        let r = try h.add(.unary(.relu), [c])
        let afterRelu = try h.add(.affine(AffineParams(axis: -1, scale: h.const([4]), shift: h.const([4]))), [r])
        let c2 = try h.add(conv(&h, cin: 4, cout: 4), [afterRelu])
        let shared = try h.add(.affine(AffineParams(axis: -1, scale: h.const([4]), shift: h.const([4]))), [c2])
        h.output(shared)
        h.output(c2)   // c2 is also an output: folding would change it
        var g = h.g
        #expect(FoldBatchNorm.run(&g) == 0)
        #expect(count(g, "affine") == 3)
    }

    @Test func fuseResidualAndActivation() throws {
        var h = GraphHarness()
        let x = h.input([-1, 5, 5, 4])
        let shortcut = try h.add(conv(&h, cin: 4, cout: 4, k: 1), [x])
        let main = try h.add(conv(&h, cin: 4, cout: 4), [x])
        let sum = try h.add(.binary(.add), [shortcut, main])
        h.output(try h.add(.unary(.relu6), [sum]))
        var g = h.g
        #expect(FuseEpilogue.fuseResiduals(&g) == 1)
        #expect(FuseEpilogue.fuseActivations(&g) == 1)
        #expect(g.nodes.count == 2)
        #expect(g.nodes[1].op.epilogue == Epilogue(bias: g.nodes[1].op.epilogue?.bias, residual: true, activation: .relu6))
        #expect(g.nodes[1].inputs == [x, shortcut])
        try equivalent(h.g, g, shape: [1, 5, 5, 4])
    }

    @Test func residualNotFusedWhenNotReadyOrActivated() throws {
        var h = GraphHarness()
        let x = h.input([-1, 5, 5, 4])
        let first = try h.add(conv(&h, cin: 4, cout: 4), [x])
        let activated = try h.add(.unary(.relu), [first])
        let later = try h.add(.unary(.sigmoid), [x])
        h.output(try h.add(.binary(.add), [activated, later]))
        var g = h.g
        #expect(FuseEpilogue.fuseResiduals(&g) == 0)
        #expect(FuseEpilogue.fuseActivations(&g) == 1)
        try equivalent(h.g, g, shape: [1, 5, 5, 4])
    }

    @Test func foldPadIntoConvolution() throws {
        var h = GraphHarness()
        let x = h.input([-1, 7, 7, 2])
        let p = try h.add(.spatial(SpatialParams(rank: 2, kind: .pad(top: 1, bottom: 2, left: 0, right: 1))), [x])
        let c = try h.add(conv(&h, cin: 2, cout: 3, padding: .valid), [p])
        let p2 = try h.add(.spatial(SpatialParams(rank: 2, kind: .pad(top: 1, bottom: 1, left: 1, right: 1))), [c])
        h.output(try h.add(.pool(PoolParams(kind: .max, window: Window(rank: 2, kh: 2, kw: 2, sh: 2, sw: 2, padding: .valid))), [p2]))
        var g = h.g
        #expect(FoldPad.run(&g) == 1)
        #expect(count(g, "zero_pad") == 1, "padding before a max pool is not the pool's padding")
        guard case .conv(let cp) = g.nodes[0].op else { Issue.record("first node should be the conv"); return }
        #expect(cp.window.padding == .explicit(top: 1, bottom: 2, left: 0, right: 1))
        try equivalent(h.g, g, shape: [1, 7, 7, 2])
    }

    @Test func foldConstants() throws {
        var h = GraphHarness()
        let x = h.input([-1, 3])
        let a = h.g.constantValue(h.random([3])), b = h.g.constantValue(h.random([1, 3]))
        let k = try h.add(.binary(.multiply), [a, b])
        let k2 = try h.add(.unary(.exponential), [k])
        h.output(try h.add(.binary(.add), [x, k2]))
        var g = h.g
        #expect(try FoldConstants.run(&g) == 2)
        #expect(g.nodes.count == 1)
        #expect(g.values[g.nodes[0].inputs[1]].constant != nil)
        try equivalent(h.g, g, shape: [4, 3])
    }

    @Test func eliminateDeadBranches() throws {
        var h = GraphHarness()
        let x = h.input([-1, 3])
        let unused = try h.add(.unary(.tanh), [x])
        _ = try h.add(.unary(.sigmoid), [unused])
        h.output(try h.add(.unary(.relu), [x]))
        var g = h.g
        #expect(EliminateDead.run(&g) == 2)
        #expect(g.nodes.count == 1)
    }

    private func pointwise(_ h: inout GraphHarness, cin: Int, cout: Int, stride: Int = 1, activation: Activation = .linear) -> Op {
        .conv(ConvParams(window: Window(rank: 2, kh: 1, kw: 1, sh: stride, sw: stride, padding: .valid), groups: 1,
                         weights: h.const([1, 1, cin, cout]), epilogue: Epilogue(bias: h.const([cout]), activation: activation)))
    }

    /// relu(conv(b) + shortcut(x)) with a strided 1x1 shortcut: one conv over b and x (K 16 + 48,
    /// taps of 16 channels), the same numbers; not when the shortcut is activated, read
    /// elsewhere, not 1x1, or the taps would be short (6 and 4 channels: taps of 2).
    @Test func fuseShortcut() throws {
        for variant in ["fuses", "activated", "read twice", "3x3", "narrow"] {
            let cin = variant == "narrow" ? 6 : 48, mid = variant == "narrow" ? 4 : 16
            var h = GraphHarness()
            let x = h.input([-1, 9, 9, cin])
            let shortcut = variant == "3x3"
                ? try h.add(.conv(ConvParams(window: Window(rank: 2, kh: 3, kw: 3, sh: 2, sw: 2, padding: .same), groups: 1,
                                             weights: h.const([3, 3, cin, 10]), epilogue: Epilogue(bias: h.const([10])))), [x])
                : try h.add(pointwise(&h, cin: cin, cout: 10, stride: 2, activation: variant == "activated" ? .relu : .linear), [x])
            let b = try h.add(pointwise(&h, cin: cin, cout: mid, stride: 2, activation: .relu), [x])
            let main = try h.add(pointwise(&h, cin: mid, cout: 10), [b])
            let sum = try h.add(.binary(.add), [shortcut, main])
            h.output(try h.add(.unary(.relu), [sum]))
            if variant == "read twice" { h.output(shortcut) }
            var g = h.g
            #expect(FuseEpilogue.fuseResiduals(&g) == 1, "\(variant)")
            _ = FuseEpilogue.fuseActivations(&g)
            #expect(FuseShortcut.run(&g) == (variant == "fuses" ? 1 : 0), "\(variant)")
            if variant == "fuses" {
                #expect(g.nodes.count == 2)
                guard case .conv(let p) = g.nodes[1].op else { Issue.record("not a conv: \(g.nodes[1].op)"); continue }
                #expect(p.shortcut?.sh == 2 && p.shortcut?.sw == 2 && !p.epilogue.residual && p.epilogue.activation == .relu)
                #expect(g.nodes[1].inputs == [b, x])
                let compiled = try Compiler.compile(g).ops.compactMap { $0 as? ConvOp }
                #expect(compiled.contains { $0.label.contains("+ shortcut 1x1/2x2 indirect gemm") && $0.tapChannels == 16 },
                        "\(compiled.map(\.label))")
            }
            try equivalent(h.g, g, shape: [2, 9, 9, cin])
        }
    }
}

/// The passes on whole Keras models: what they do to the committed MobileNetV2 and ResNet
/// fixtures (whose outputs the fixture tests check against Keras).
@Suite struct PassesOnKerasModels {
    @Test func mobileNetV2() throws {
        let m = try Model(path: "\(Fixtures.root)/keras3_mobilenetv2_035/model.keras")
        let report = m.optimizationReport.joined(separator: "\n")
        #expect(report.contains("BatchNormalization folded"), "\(report)")
        #expect(report.contains("activations fused"), "\(report)")
        #expect(report.contains("ZeroPadding folded"), "\(report)")
        #expect(report.contains("residual adds fused"), "\(report)")
        #expect(!m.graphDump.contains("affine"), "every BatchNormalization folds:\n\(m.graphDump)")
        #expect(!m.graphDump.contains("unary:"), "every activation fuses:\n\(m.graphDump)")
    }

    /// Three of the five ZeroPadding + MaxPooling pairs come after a ReLU with pads smaller than
    /// the window; the fixture tests check all five outputs against Keras.
    @Test func zeroPaddingFoldsIntoMaxPoolingOnlyAfterReLU() throws {
        let m = try Model(path: "\(Fixtures.root)/keras3_maxpool_after_relu_pad/model.keras")
        let report = m.optimizationReport.joined(separator: "\n")
        #expect(report.contains("3 ZeroPadding folded into max pooling"), "\(report)")
        #expect(m.graphDump.components(separatedBy: "= zero_pad(").count - 1 == 2, "two pads stay:\n\(m.graphDump)")
    }

    /// Every depthwise convolution of MobileNetV2 runs fused with the convolutions around it (16
    /// 1x1 expand + depthwise + project chains, and the 3x3/2 stem over kernel rows + the first
    /// block's depthwise + project), in bands of one to all rows (stride 1 and 2, bands and
    /// thread ranges that start inside the image, expanded rows carried from band to band, the
    /// stem's padded edge columns, project residuals, at 3 threads the late blocks' whole-image
    /// mode), and the model still matches Keras at 1 and 3 threads; with fusion off it matches too.
    @Test(arguments: ["keras3_mobilenetv2_035", "tf_keras_mobilenetv2_035"])
    func depthwiseChainFusionMatchesKeras(_ name: String) throws {
        let dir = "\(Fixtures.root)/\(name)"
        let m = try Fixtures.manifest(name)
        for bandFloats in [1, 5000, 1 << 17] {
            let model = try Model(path: "\(dir)/\(m.model)", fuseBandsAbove: 0, bandFloats: bandFloats)
            let report = model.optimizationReport.joined(separator: "\n"), dump = model.graphDump
            #expect(report.contains("17 depthwise convs run fused with their"), "\(report)")
            #expect(dump.components(separatedBy: "= conv2d_1x1+depthwise+conv2d_1x1(").count - 1 == 16, "\(dump)")
            #expect(dump.components(separatedBy: "= conv2d+depthwise+conv2d_1x1(").count - 1 == 1, "the stem chains:\n\(dump)")
            #expect(dump.components(separatedBy: "= binary:add").count == 1, "residual adds stay fused:\n\(dump)")
            let a = try NpyArray(path: "\(dir)/\(m.inputs[0])")
            guard case .float32(let x) = a.values else { Issue.record("float input expected"); return }
            let ref = try NpyArray(path: "\(dir)/\(m.outputs[0])")
            for threads in [1, 3] {
                let y = try Session(model: model, options: SessionOptions(threads: threads)).run([(a.shape, .float32(x))])
                let miss = Fixtures.compare(y[0].data, ref.floats, m.tolerance, argmaxClasses: ref.shape.last)
                #expect(miss == nil, "band \(bandFloats) floats, \(threads) threads: \(miss ?? "")")
            }
            // Batch 2 (the image twice): each image's output is Keras' output.
            for threads in [1, 3] {
                let y2 = try Session(model: model, options: SessionOptions(threads: threads)).run([([2] + a.shape.dropFirst(), .float32(x + x))])
                let half = y2[0].data.count / 2
                for image in 0..<2 {
                    let miss = Fixtures.compare(Array(y2[0].data[(image * half)..<((image + 1) * half)]), ref.floats, m.tolerance,
                                                argmaxClasses: ref.shape.last)
                    #expect(miss == nil, "band \(bandFloats) floats, batch 2, \(threads) threads, image \(image): \(miss ?? "")")
                }
            }
        }
        // Three regions per thread: at one thread the first region's owner takes the other two
        // band by band from their backs (no rows carried between those bands); at three threads
        // threads take bands from nine regions. Both give the default split's output bit for bit.
        let a = try NpyArray(path: "\(dir)/\(m.inputs[0])")
        guard case .float32(let x) = a.values else { Issue.record("float input expected"); return }
        for bandFloats in [5000, 1 << 17] {
            let owned = try Model(path: "\(dir)/\(m.model)", fuseBandsAbove: 0, bandFloats: bandFloats)
            let shared = try Model(path: "\(dir)/\(m.model)", fuseBandsAbove: 0, bandFloats: bandFloats, regionsPerThread: 3)
            for threads in [1, 3] {
                let y0 = try Session(model: owned, options: SessionOptions(threads: threads)).run([(a.shape, .float32(x))])
                let y1 = try Session(model: shared, options: SessionOptions(threads: threads)).run([(a.shape, .float32(x))])
                #expect(y0[0].data == y1[0].data, "band \(bandFloats) floats, \(threads) threads: bands taken from other regions differ")
            }
        }
        let plain = try Model(path: "\(dir)/\(m.model)")
        #expect(plain.optimizationReport.joined().contains("17 depthwise convs run fused with their"), "tensors of every size chain by default")
        let apart = try Model(path: "\(dir)/\(m.model)", fuseBandsAbove: Int.max, bandFloats: 1 << 17)
        #expect(!apart.optimizationReport.joined().contains("run fused with their"), "\(apart.optimizationReport)")
        let y = try Session(model: apart, options: SessionOptions(threads: 2)).run([(a.shape, .float32(x))])
        let ref = try NpyArray(path: "\(dir)/\(m.outputs[0])")
        let miss = Fixtures.compare(y[0].data, ref.floats, m.tolerance, argmaxClasses: ref.shape.last)
        #expect(miss == nil, "without chains: \(miss ?? "")")
    }

    /// A 7x7 chain at 2 and 3 threads: a batch's images run whole, one per thread, and the images
    /// left over run in whole-image mode, whose pieces take output pixels cut mid-row (24 | 25
    /// and 18 | 12 | 19 of 49). Both match Keras and the 1-thread run bit for bit. Batch 17 (one
    /// image is too few FLOPs to wake the threads).
    @Test func wholeImageChainSplitsPixelsMidRow() throws {
        let name = "keras3_mbconv_whole_image_h5"
        let m = try Fixtures.manifest(name)
        let model = try Model(path: "\(Fixtures.root)/\(name)/\(m.model)")
        #expect(model.graphDump.components(separatedBy: "= conv2d_1x1+depthwise+conv2d_1x1(").count - 1 == 1, "\(model.graphDump)")
        let a = try NpyArray(path: "\(Fixtures.root)/\(name)/\(m.inputs[0])")
        guard case .float32(let x) = a.values else { Issue.record("float input expected"); return }
        let ref = try NpyArray(path: "\(Fixtures.root)/\(name)/\(m.outputs[0])").floats
        // 8 copies of the fixture's batch (2 images) and its first image again: 17 images, so at 2
        // and 3 threads most run whole per thread and the last one or two are split mid-row.
        let copies = 8, images = a.shape[0] * copies + 1, imageFloats = x.count / a.shape[0]
        let batch: [(shape: [Int], data: InputData)] = [([images] + a.shape.dropFirst(),
                                                          .float32(Array([[Float]](repeating: x, count: copies).joined()) + x[..<imageFloats]))]
        let serial = try Session(model: model, options: SessionOptions(threads: 1)).run(batch)
        let outFloats = ref.count / a.shape[0]
        for threads in [2, 3] {
            let y = try Session(model: model, options: SessionOptions(threads: threads)).run(batch)
            for image in 0..<images {
                let want = image % a.shape[0]
                let miss = Fixtures.compare(Array(y[0].data[(image * outFloats)..<((image + 1) * outFloats)]),
                                            Array(ref[(want * outFloats)..<((want + 1) * outFloats)]), m.tolerance, argmaxClasses: nil)
                #expect(miss == nil, "\(threads) threads, image \(image): \(miss ?? "")")
            }
            #expect(y[0].data == serial[0].data, "\(threads) threads differ from 1 thread")
        }
    }

    /// The fixture's two projection blocks (Keras outputs checked by KerasFixtureTests) both fuse, one with a
    /// stride-1 shortcut and one with a stride-2 one.
    @Test func shortcutFixtureFuses() throws {
        let m = try Model(path: "\(Fixtures.root)/keras3_conv2d_shortcut_fused_h5/model.h5")
        let labels = m.compiled.ops.map(\.label)
        #expect(labels.filter { $0.contains("+ shortcut 1x1 indirect gemm") }.count == 1, "\(labels)")
        #expect(labels.filter { $0.contains("+ shortcut 1x1/2x2 indirect gemm") }.count == 1, "\(labels)")
        #expect(m.optimizationReport.contains { $0.hasPrefix("2 1x1 shortcut convs summed") }, "\(m.optimizationReport)")
        // The identity block's last 1x1 (K = 400, in blocks) writes over its residual.
        let g = m.compiled.graph
        let sizes = g.values.map { $0.shape.map { max($0, 1) }.reduce(4, *) }
        let a = try MemoryPlanner.assign(g, sizes: sizes, scratch: [Int](repeating: 0, count: g.nodes.count))
        let overResidual = g.nodes.filter {
            guard case .conv(let p) = $0.op, p.isPointwise, p.epilogue.residual, $0.inputs.count == 2 else { return false }
            return a.valueOffsets[$0.outputs[0]] == a.valueOffsets[$0.inputs[1]]
        }
        #expect(overResidual.count == 1, "\(g.nodes.map(\.origin))")
    }

    @Test func resNet() throws {
        let m = try Model(path: "\(Fixtures.root)/keras3_resnet_small/model.keras")
        let report = m.optimizationReport.joined(separator: "\n")
        #expect(report.contains("BatchNormalization folded"), "\(report)")
        #expect(report.contains("residual adds fused"), "\(report)")
        #expect(!m.graphDump.contains("binary:add"), "every residual add fuses:\n\(m.graphDump)")
    }
}
