/// Go's time.RFC3339Nano as encoding/json writes a time.Time: the fraction without trailing zeros
/// (none at all for a whole second). `created` is stored with nine digits.
func goRFC3339Nano(_ stamp: String) -> String {
    guard let dot = stamp.firstIndex(of: "."), let zone = stamp[dot...].firstIndex(where: { $0 == "Z" || $0 == "+" || $0 == "-" }) else {
        return stamp
    }
    var fraction = stamp[stamp.index(after: dot)..<zone]
    while fraction.last == "0" { fraction = fraction.dropLast() }
    return String(stamp[..<dot]) + (fraction.isEmpty ? "" : "." + fraction) + String(stamp[zone...])
}
