/// Which Keras generation's meaning applies to names that changed between generations.
struct KerasSemantics {
    let kerasVersion: String
    var isKeras3: Bool { (Int(kerasVersion.split(separator: ".").first ?? "") ?? 3) >= 3 }

    init(kerasVersion: String?) {
        self.kerasVersion = kerasVersion ?? "3"
    }
}
