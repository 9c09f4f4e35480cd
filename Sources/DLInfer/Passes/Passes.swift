/// The graph passes in the order they run, and what each did.
enum Passes {
    /// Rewrites `g` in place; returns one line per pass that changed something.
    /// `fuseBandsAbove`, `bandFloats`: the tensor size from which a depthwise conv chains with its
    /// expand/project convs, the chains' band size and regions per thread (FuseDepthwiseChain;
    /// tests vary them).
    static func optimize(_ g: inout IRGraph, fuseBandsAbove: Int = FuseDepthwiseChain.defaultMinimumBytes,
                         bandFloats: Int = FuseDepthwiseChain.defaultBandFloats, regionsPerThread: Int = 1) throws -> [String] {
        var report: [String] = []
        func note(_ n: Int, _ what: String) { if n > 0 { report.append("\(n) \(what)") } }
        note(EliminateIdentity.run(&g), "identity ops dropped (Dropout, noise, linear)")
        note(try FoldConstants.run(&g), "ops folded into constants")
        note(EliminateDead.run(&g), "unused ops dropped")
        note(FoldPad.run(&g), "ZeroPadding folded into convolution padding")
        note(FoldBatchNorm.run(&g), "BatchNormalization folded into conv/dense weights")
        note(FuseEpilogue.fuseResiduals(&g), "residual adds fused into conv/dense epilogues")
        note(FuseEpilogue.fuseActivations(&g), "activations fused into conv/dense epilogues")
        note(FoldPad.intoMaxPool(&g), "ZeroPadding folded into max pooling (after a ReLU)")
        note(FuseDepthwiseChain.run(&g, minimumBytes: fuseBandsAbove, bandFloats: bandFloats, regionsPerThread: regionsPerThread), "depthwise convs run fused with their expand/project convs in row bands")
        note(FuseShortcut.run(&g), "1x1 shortcut convs summed into the 1x1 conv they are added to")
        let affine = g.nodes.filter { if case .affine = $0.op { return true } else { return false } }.count
        note(affine, "per-channel affine ops remain (BatchNormalization/Rescaling not after a conv/dense)")
        return report
    }
}
