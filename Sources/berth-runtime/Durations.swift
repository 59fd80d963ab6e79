/// Go duration strings as `--interval` takes them: `5s`, `500ms`, `1m`, `1.5s`.
enum Durations {
    static func seconds(_ text: String) throws -> Double {
        let units: [(String, Double)] = [("ms", 0.001), ("us", 0.000001), ("ns", 1e-9), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            if let value = Double(text.dropLast(suffix.count)), value > 0 { return value * factor }
        }
        throw CommandError("--interval", "\(text) is not a duration (like 5s or 500ms)")
    }
}
