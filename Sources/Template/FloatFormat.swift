/// Go's strconv.FormatFloat for float64, without Foundation: the `e`, `E`, `f`, `g` and `G`
/// formats, shortest (precision -1) or with a fixed precision, rounding as Go does.
enum FloatFormat {
    /// Decimal digits of a magnitude: value = 0.d₁d₂…dₙ × 10^point. No leading or trailing
    /// zeros; zero has no digits.
    struct Digits {
        var digits: [UInt8]
        var point: Int

        var count: Int { digits.count }

        /// Rounds to `n` digits, half to even. The digits are exact (or shortest, which
        /// is never rounded), so a 5 with nothing after it is a true tie.
        mutating func round(to n: Int) {
            guard n >= 0, n < digits.count else { return }
            let roundUp: Bool
            if digits[n] == UInt8(ascii: "5") && n + 1 == digits.count {
                roundUp = n > 0 && (digits[n - 1] - UInt8(ascii: "0")) % 2 == 1
            } else {
                roundUp = digits[n] >= UInt8(ascii: "5")
            }
            if roundUp {
                var i = n - 1
                while i >= 0 && digits[i] == UInt8(ascii: "9") { i -= 1 }
                if i < 0 {
                    digits = [UInt8(ascii: "1")]
                    point += 1
                } else {
                    digits[i] += 1
                    digits.removeSubrange((i + 1)...)
                }
            } else {
                digits.removeSubrange(n...)
                while let last = digits.last, last == UInt8(ascii: "0") { digits.removeLast() }
                if digits.isEmpty { point = 0 }
            }
        }
    }

    /// Formats like strconv.FormatFloat(value, format, precision, 64).
    static func format(_ value: Double, _ format: UInt8, precision: Int) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Inf" : "+Inf" }
        let negative = value.sign == .minus
        switch format {
        case UInt8(ascii: "b"): return binaryExponent(value)
        case UInt8(ascii: "x"), UInt8(ascii: "X"): return hexadecimal(value, format, precision: precision)
        default: break
        }
        var precision = precision
        let shortest = precision < 0
        var digits: Digits
        if shortest {
            digits = shortestDigits(value.magnitude)
            switch format {
            case UInt8(ascii: "e"), UInt8(ascii: "E"): precision = max(digits.count - 1, 0)
            case UInt8(ascii: "f"): precision = max(digits.count - digits.point, 0)
            default: precision = digits.count
            }
        } else {
            digits = exactDigits(value.magnitude)
            switch format {
            case UInt8(ascii: "e"), UInt8(ascii: "E"): digits.round(to: precision + 1)
            case UInt8(ascii: "f"): digits.round(to: digits.point + precision)
            default:
                if precision == 0 { precision = 1 }
                digits.round(to: precision)
            }
        }
        var out: [UInt8] = []
        switch format {
        case UInt8(ascii: "e"), UInt8(ascii: "E"):
            formatE(&out, negative, digits, precision, format)
        case UInt8(ascii: "f"):
            formatF(&out, negative, digits, precision)
        default:
            var exponentLimit = precision
            if exponentLimit > digits.count && digits.count >= digits.point { exponentLimit = digits.count }
            // Shortest %g switches to an exponent at 1e+06, whatever the digit count.
            if shortest { exponentLimit = 6 }
            let exponent = digits.point - 1
            if exponent < -4 || exponent >= exponentLimit {
                if precision > digits.count { precision = digits.count }
                formatE(&out, negative, digits, precision - 1, format + UInt8(ascii: "e") - UInt8(ascii: "g"))
            } else {
                if precision > digits.point { precision = digits.count }
                formatF(&out, negative, digits, max(precision - digits.point, 0))
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The raw parts of a finite double: value = mantissa × 2^(exponent - 52).
    private static func parts(_ value: Double) -> (mantissa: UInt64, exponent: Int) {
        let biased = Int(value.exponentBitPattern)
        if biased == 0 { return (value.significandBitPattern, -1022) }
        return (value.significandBitPattern | 1 << 52, biased - 1023)
    }

    /// `%b`: the integer mantissa and binary exponent, `4503599627370496p-52` for 1.
    private static func binaryExponent(_ value: Double) -> String {
        let (mantissa, exponent) = parts(value)
        let shifted = exponent - 52
        return (value.sign == .minus ? "-" : "") + String(mantissa) + "p" + (shifted >= 0 ? "+" : "") + String(shifted)
    }

    /// `%x`: hexadecimal mantissa and binary exponent, `0x1.8p+01` for 3, as strconv's fmtX.
    private static func hexadecimal(_ value: Double, _ format: UInt8, precision: Int) -> String {
        var (mantissa, exponent) = parts(value)
        if mantissa == 0 { exponent = 0 }
        // Put the leading 1 at bit 60, leaving 4-bit digits below it.
        mantissa <<= 8
        while mantissa != 0 && mantissa & (1 << 60) == 0 {
            mantissa <<= 1
            exponent -= 1
        }
        if precision >= 0 && precision < 15 {
            let shift = UInt64(precision * 4)
            let extra = (mantissa << shift) & (1 << 60 - 1)
            mantissa >>= 60 - shift
            if extra | (mantissa & 1) > 1 << 59 { mantissa += 1 }
            mantissa <<= 60 - shift
            if mantissa & (1 << 61) != 0 {
                mantissa >>= 1
                exponent += 1
            }
        }
        let digits = Array((format == UInt8(ascii: "X") ? "0123456789ABCDEF" : "0123456789abcdef").utf8)
        var out: [UInt8] = value.sign == .minus ? [UInt8(ascii: "-")] : []
        out += [UInt8(ascii: "0"), format, UInt8(ascii: "0") + UInt8((mantissa >> 60) & 1)]
        mantissa <<= 4
        if precision < 0 && mantissa != 0 {
            out.append(UInt8(ascii: "."))
            while mantissa != 0 {
                out.append(digits[Int((mantissa >> 60) & 15)])
                mantissa <<= 4
            }
        } else if precision > 0 {
            out.append(UInt8(ascii: "."))
            for _ in 0..<precision {
                out.append(digits[Int((mantissa >> 60) & 15)])
                mantissa <<= 4
            }
        }
        out.append(format == UInt8(ascii: "X") ? UInt8(ascii: "P") : UInt8(ascii: "p"))
        out.append(exponent < 0 ? UInt8(ascii: "-") : UInt8(ascii: "+"))
        let magnitude = abs(exponent)
        if magnitude < 10 { out.append(UInt8(ascii: "0")) }
        out.append(contentsOf: String(magnitude).utf8)
        return String(decoding: out, as: UTF8.self)
    }

    private static func formatE(_ out: inout [UInt8], _ negative: Bool, _ d: Digits, _ precision: Int, _ letter: UInt8) {
        if negative { out.append(UInt8(ascii: "-")) }
        out.append(d.count == 0 ? UInt8(ascii: "0") : d.digits[0])
        if precision > 0 {
            out.append(UInt8(ascii: "."))
            var i = 1
            let m = min(d.count, precision + 1)
            if i < m {
                out.append(contentsOf: d.digits[i..<m])
                i = m
            }
            while i <= precision { out.append(UInt8(ascii: "0")); i += 1 }
        }
        out.append(letter)
        var exponent = d.count == 0 ? 0 : d.point - 1
        if exponent < 0 {
            out.append(UInt8(ascii: "-"))
            exponent = -exponent
        } else {
            out.append(UInt8(ascii: "+"))
        }
        if exponent < 10 { out.append(UInt8(ascii: "0")) }
        out.append(contentsOf: String(exponent).utf8)
    }

    private static func formatF(_ out: inout [UInt8], _ negative: Bool, _ d: Digits, _ precision: Int) {
        if negative { out.append(UInt8(ascii: "-")) }
        if d.point > 0 {
            let m = min(d.count, d.point)
            out.append(contentsOf: d.digits[0..<m])
            if m < d.point { out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: d.point - m)) }
        } else {
            out.append(UInt8(ascii: "0"))
        }
        if precision > 0 {
            out.append(UInt8(ascii: "."))
            for i in 1...precision {
                let j = d.point + i - 1
                out.append(j >= 0 && j < d.count ? d.digits[j] : UInt8(ascii: "0"))
            }
        }
    }

    /// The shortest digits that read back as `magnitude`. Swift's own description already
    /// computes them (as Go's Ryū does); only its layout differs, so it is taken apart here.
    static func shortestDigits(_ magnitude: Double) -> Digits {
        let text = Array(magnitude.description.utf8)
        var mantissa = text[...]
        var exponent = 0
        if let e = text.firstIndex(of: UInt8(ascii: "e")) {
            mantissa = text[..<e]
            exponent = Int(String(decoding: text[(e + 1)...], as: UTF8.self)) ?? 0
        }
        var digits: [UInt8] = []
        var integerLength = mantissa.count
        for (offset, byte) in mantissa.enumerated() {
            if byte == UInt8(ascii: ".") { integerLength = offset } else { digits.append(byte) }
        }
        return normalized(digits, point: integerLength + exponent)
    }

    /// Every digit of the binary value, for rounding to a fixed precision the way Go does
    /// (correctly, ties to even). A double is m × 2^e; for e < 0 that is m × 5^-e / 10^-e.
    static func exactDigits(_ magnitude: Double) -> Digits {
        guard magnitude != 0 else { return Digits(digits: [], point: 0) }
        let biased = Int(magnitude.exponentBitPattern)
        var mantissa = magnitude.significandBitPattern
        var exponent: Int
        if biased == 0 {
            exponent = -1074
        } else {
            mantissa |= 1 << 52
            exponent = biased - 1075
        }
        var number = DecimalInteger(mantissa)
        var decimalShift = 0
        if exponent >= 0 {
            while exponent > 0 {
                let step = min(exponent, 31)
                number.multiply(by: UInt32(1) << UInt32(step))
                exponent -= step
            }
        } else {
            decimalShift = -exponent
            var remaining = -exponent
            while remaining > 0 {
                let step = min(remaining, 13)
                var factor: UInt32 = 1
                for _ in 0..<step { factor *= 5 }
                number.multiply(by: factor)
                remaining -= step
            }
        }
        let digits = number.decimalDigits()
        return normalized(digits, point: digits.count - decimalShift)
    }

    private static func normalized(_ digits: [UInt8], point: Int) -> Digits {
        var digits = digits[...]
        var point = point
        while let first = digits.first, first == UInt8(ascii: "0") {
            digits = digits.dropFirst()
            point -= 1
        }
        while let last = digits.last, last == UInt8(ascii: "0") { digits = digits.dropLast() }
        if digits.isEmpty { point = 0 }
        return Digits(digits: Array(digits), point: point)
    }
}

/// An unsigned integer in base 10⁹ limbs, least significant first: just enough arithmetic
/// to expand a double's exact value into decimal.
private struct DecimalInteger {
    static let base: UInt64 = 1_000_000_000
    var limbs: [UInt32]

    init(_ value: UInt64) {
        limbs = []
        var rest = value
        repeat {
            limbs.append(UInt32(rest % Self.base))
            rest /= Self.base
        } while rest > 0
    }

    mutating func multiply(by factor: UInt32) {
        var carry: UInt64 = 0
        for i in limbs.indices {
            let product = UInt64(limbs[i]) * UInt64(factor) + carry
            limbs[i] = UInt32(product % Self.base)
            carry = product / Self.base
        }
        while carry > 0 {
            limbs.append(UInt32(carry % Self.base))
            carry /= Self.base
        }
    }

    func decimalDigits() -> [UInt8] {
        var out: [UInt8] = []
        for (i, limb) in limbs.reversed().enumerated() {
            let text = Array(String(limb).utf8)
            if i > 0 { out.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: 9 - text.count)) }
            out.append(contentsOf: text)
        }
        return out
    }
}
