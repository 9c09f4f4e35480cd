/// Lays out every value of a plan in one arena from value lifetimes: values that are never alive
/// at the same time share memory, reshapes are views of their input, and elementwise ops whose
/// input dies at them write over it (in place), as does a 1x1 conv over its fused residual.
/// Greedy by size, as XNNPACK's and TFLite's planners do.
enum MemoryPlanner {
    static let alignment = 64

    /// A buffer alive from step `first` to step `last` inclusive (-1: written before step 0).
    struct Buffer {
        var size: Int
        var first: Int
        var last: Int
    }

    struct Assignment {
        /// Byte offset of each value in the arena (nil for constants).
        var valueOffsets: [Int?]
        /// Byte offset of each node's scratch (nil when it needs none).
        var scratchOffsets: [Int?]
        /// Byte offset of each node's persistent memory (nil when it needs none): alive for the
        /// whole run, so no other buffer ever shares it and it keeps its contents between runs.
        var persistentOffsets: [Int?] = []
        var totalBytes: Int
        var views = 0
        var inPlace = 0
    }

    /// `sizes`: bytes of each value (ignored for constants); `scratch`: bytes per node;
    /// `persistent`: bytes per node kept between runs (none when empty).
    static func assign(_ g: IRGraph, sizes: [Int], scratch: [Int], persistent: [Int] = []) throws -> Assignment {
        let n = g.nodes.count
        var def = [Int](repeating: -1, count: g.values.count)
        var lastUse = [Int](repeating: -1, count: g.values.count)
        for (i, node) in g.nodes.enumerated() {
            for v in node.outputs { def[v] = i; lastUse[v] = max(lastUse[v], i) }
            for v in node.inputs { lastUse[v] = max(lastUse[v], i) }
        }
        for v in g.outputs { lastUse[v] = n }
        var group = Array(0..<g.values.count)
        var groupLast = lastUse
        var views = 0, inPlace = 0
        for (i, node) in g.nodes.enumerated() {
            let storage = node.op.outputStorage
            let index: Int
            switch storage {
            case .own: continue
            case .view: index = 0
            case .inPlace(let input): index = input
            }
            guard index < node.inputs.count, let out = node.outputs.first, g.values[node.inputs[index]].constant == nil else { continue }
            let source = node.inputs[index], root = group[source]
            if storage == .view {
                views += 1
            } else {
                let othersShare = node.inputs.indices.contains { $0 != index && group[node.inputs[$0]] == root }
                guard groupLast[root] == i, sizes[out] == sizes[source], !othersShare else { continue }
                inPlace += 1
            }
            group[out] = root
            groupLast[root] = max(groupLast[root], lastUse[out])
        }
        var buffers: [Buffer] = []
        var bufferOf = [Int?](repeating: nil, count: g.values.count)
        for v in g.values.indices where group[v] == v && g.values[v].constant == nil {
            var size = sizes[v]
            for w in g.values.indices where group[w] == v { size = max(size, sizes[w]) }
            bufferOf[v] = buffers.count
            buffers.append(Buffer(size: size, first: def[v], last: max(groupLast[v], def[v])))
        }
        var scratchBuffer = [Int?](repeating: nil, count: n)
        for (i, s) in scratch.enumerated() where s > 0 {
            scratchBuffer[i] = buffers.count
            buffers.append(Buffer(size: s, first: i, last: i))
        }
        var persistentBuffer = [Int?](repeating: nil, count: n)
        for (i, s) in persistent.enumerated() where s > 0 {
            persistentBuffer[i] = buffers.count
            buffers.append(Buffer(size: s, first: -1, last: n))
        }
        let (offsets, total) = try place(buffers)
        return Assignment(valueOffsets: g.values.indices.map { v in
                              g.values[v].constant != nil ? nil : bufferOf[group[v]].map { offsets[$0] } },
                          scratchOffsets: scratchBuffer.map { $0.map { offsets[$0] } },
                          persistentOffsets: persistentBuffer.map { $0.map { offsets[$0] } },
                          totalBytes: total, views: views, inPlace: inPlace)
    }

    /// Offsets such that buffers alive at the same time never overlap; largest first.
    static func place(_ buffers: [Buffer]) throws -> (offsets: [Int], total: Int) {
        var offsets = [Int](repeating: 0, count: buffers.count)
        var placed: [Int] = []
        var total = 0
        let order = buffers.indices.sorted { (buffers[$0].size, buffers[$1].first) > (buffers[$1].size, buffers[$0].first) }
        for b in order {
            let me = buffers[b]
            let conflicts = placed.filter { buffers[$0].first <= me.last && me.first <= buffers[$0].last }
                                  .sorted { offsets[$0] < offsets[$1] }
            var offset = 0
            for c in conflicts {
                if offset + me.size <= offsets[c] { break }
                offset = max(offset, try aligned(try checkedAdd(offsets[c], buffers[c].size)))
            }
            offsets[b] = offset
            placed.append(b)
            total = max(total, try checkedAdd(offset, me.size))
        }
        return (offsets, try aligned(total))
    }

    private static func aligned(_ x: Int) throws -> Int { (try checkedAdd(x, alignment - 1)) / alignment * alignment }
}
