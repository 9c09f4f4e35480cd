import Foundation

/// The Keras-generated fixtures in Tests/Fixtures (see tools/gen_fixtures.py) and the numerics
/// contract they are judged by.
enum Fixtures {
    static let root: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures").path
    }()

    static let demoRoot: String = {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("demo").path
    }()

    /// Every model case folder (those with a manifest naming a model).
    static let cases: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return names.filter { FileManager.default.fileExists(atPath: "\(root)/\($0)/manifest.json") && $0 != "images" }.sorted()
    }()

    struct Manifest: Decodable {
        struct Tolerance: Decodable {
            let rule: String
            let atol: Double?
            let rtol: Double?
            let max_rel: Double?
        }
        let model: String
        let weights: String?
        let inputs: [String]
        let outputs: [String]
        let tolerance: Tolerance
        let argmax: Bool?
    }

    static func manifest(_ name: String) throws -> Manifest {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(root)/\(name)/manifest.json"))
        return try JSONDecoder().decode(Manifest.self, from: data)
    }

    /// Returns nil when `y` meets the manifest's rule against `ref`, else a description of the miss.
    static func compare(_ y: [Float], _ ref: [Float], _ t: Manifest.Tolerance, argmaxClasses: Int?) -> String? {
        guard y.count == ref.count else { return "\(y.count) values, reference has \(ref.count)" }
        var maxAbs: Float = 0, maxRef: Float = 0
        var worst: (Int, Float, Float)?
        for i in y.indices {
            // Keras' NaN and infinities must come out as they are: equal, or both NaN.
            let bothNaN = (y[i].isNaN && ref[i].isNaN) || y[i] == ref[i]
            let d = bothNaN ? 0 : abs(y[i] - ref[i])
            if !bothNaN && !(d <= maxAbs) { maxAbs = d.isNaN ? .infinity : d }
            maxRef = max(maxRef, abs(ref[i]))
            if t.rule == "elementwise", !bothNaN, !(Double(d) <= (t.atol ?? 1e-4) + (t.rtol ?? 1e-4) * Double(abs(ref[i]))) {
                if worst == nil || d > worst!.1 || d.isNaN { worst = (i, d, ref[i]) }
            }
        }
        if t.rule == "elementwise", let w = worst {
            return "element \(w.0): |y - ref| = \(w.1) (ref \(w.2)); max abs error \(maxAbs)"
        }
        if t.rule == "max_rel", Double(maxAbs) > (t.max_rel ?? 1e-4) * Double(maxRef) {
            return "max abs error \(maxAbs) > \(t.max_rel ?? 1e-4) * max|ref| \(maxRef)"
        }
        if let k = argmaxClasses, k > 0 {
            for row in 0..<(y.count / k) {
                let a = y[(row * k)..<(row * k + k)], b = ref[(row * k)..<(row * k + k)]
                if a.firstIndex(of: a.max()!) != b.firstIndex(of: b.max()!) { return "argmax differs in row \(row)" }
            }
        }
        return nil
    }
}
