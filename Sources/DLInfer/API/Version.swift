/// The library version reported by dl_version().
public let dlinferVersion = "0.1.0"
