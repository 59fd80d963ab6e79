/// Go duration strings as `--interval` takes them (time.ParseDuration): `5s`, `500ms`, `1.5s`, `1h30m`,
/// `0`, each number with a unit from ns, us, µs, ms, s, m, h.
enum Durations {
    static func seconds(_ text: String, flag: String = "interval") throws -> Double {
        let bad = CommandError("invalid value \(goQuoted(text)) for flag -\(flag): parse error", "")
        var rest = Substring(text)
        var sign = 1.0
        if let first = rest.first, first == "-" || first == "+" { sign = first == "-" ? -1 : 1; rest = rest.dropFirst() }
        if rest == "0" { return 0 }
        guard !rest.isEmpty else { throw bad }
        let units: [(String, Double)] = [("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("μs", 1e-6), ("ms", 1e-3),
                                         ("s", 1), ("m", 60), ("h", 3600)]
        var total = 0.0
        while !rest.isEmpty {
            let number = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            guard !number.isEmpty, number != ".", let value = Double(number.hasPrefix(".") ? "0" + number : String(number)) else { throw bad }
            rest = rest.dropFirst(number.count)
            // ms before m: the first unit that fits wins.
            guard let (unit, factor) = units.first(where: { rest.hasPrefix($0.0) }) else { throw bad }
            rest = rest.dropFirst(unit.count)
            total += value * factor
        }
        return sign * total
    }
}
