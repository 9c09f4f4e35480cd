let usage = """
    usage: dlbench MODEL [--weights W] [--batch B] [--shape NAME=d1,d2,...] [--threads N]
                         [--warmup N] [--runs N | --seconds S] [--profile] [--json]
    """

/// A failure to report on stderr; `status` is the exit status (2 for usage errors).
struct Failure: Error {
    let message: String
    var status: Int32 = 1
    static func usage(_ message: String) -> Failure { Failure(message: message, status: 2) }
}

struct Options {
    var modelPath = ""
    var weightsPath: String?
    var batch: Int?
    var shapes: [(name: String, shape: [Int])] = []
    var threads = 1
    var warmup = 5
    var runs: Int?
    var seconds: Double?
    var profile = false
    var json = false
    var help = false

    /// Runs in time mode stop at this count, so a tiny model does not collect millions of samples.
    static let maxRuns = 100_000
    static let defaultSeconds = 5.0
}

func parseOptions(_ args: [String]) throws -> Options {
    var o = Options()
    var rest = args[...]
    func value(_ flag: String) throws -> String {
        guard let v = rest.popFirst() else { throw Failure.usage("\(flag) needs a value") }
        return v
    }
    while var arg = rest.popFirst() {
        // Accept --flag=value as well as --flag value.
        if arg.hasPrefix("--"), let eq = arg.firstIndex(of: "=") {
            rest.insert(String(arg[arg.index(after: eq)...]), at: rest.startIndex)
            arg = String(arg[..<eq])
        }
        switch arg {
        case "--weights": o.weightsPath = try value(arg)
        case "--batch": o.batch = try positiveInt(try value(arg), arg)
        case "--shape": o.shapes.append(try parseShape(try value(arg)))
        case "--threads": o.threads = try positiveInt(try value(arg), arg)
        case "--warmup": o.warmup = try count(try value(arg), arg, min: 0)
        case "--runs": o.runs = try positiveInt(try value(arg), arg)
        case "--seconds":
            guard let s = Double(try value(arg)), s > 0, s.isFinite else { throw Failure.usage("--seconds needs a positive number") }
            o.seconds = s
        case "--profile": o.profile = true
        case "--json": o.json = true
        case "-h", "--help": o.help = true
        default:
            guard !arg.hasPrefix("-") else { throw Failure.usage("unknown option \(arg)") }
            guard o.modelPath.isEmpty else { throw Failure.usage("unexpected argument \(arg) (model is \(o.modelPath))") }
            o.modelPath = arg
        }
    }
    if o.help { return o }
    guard !o.modelPath.isEmpty else { throw Failure.usage("missing MODEL") }
    guard o.runs == nil || o.seconds == nil else { throw Failure.usage("give --runs or --seconds, not both") }
    return o
}

private func count(_ text: String, _ flag: String, min: Int) throws -> Int {
    guard let n = Int(text), n >= min else {
        throw Failure.usage("\(flag) needs \(min == 0 ? "a non-negative" : "a positive") integer, got '\(text)'")
    }
    return n
}

private func positiveInt(_ text: String, _ flag: String) throws -> Int { try count(text, flag, min: 1) }

/// "NAME=d1,d2,..." → (NAME, [d1, d2, ...]), split at the last '=' (dimensions never hold one).
private func parseShape(_ text: String) throws -> (name: String, shape: [Int]) {
    guard let eq = text.lastIndex(of: "="), eq != text.startIndex else {
        throw Failure.usage("--shape needs NAME=d1,d2,..., got '\(text)'")
    }
    let dims = text[text.index(after: eq)...].split(separator: ",", omittingEmptySubsequences: false)
    let shape = dims.compactMap { Int($0) }.filter { $0 > 0 }
    guard !dims.isEmpty, shape.count == dims.count else {
        throw Failure.usage("--shape \(text): dimensions must be positive integers separated by commas")
    }
    return (String(text[..<eq]), shape)
}
