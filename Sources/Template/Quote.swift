/// Go's strconv quoting and unquoting: `%q`, error messages that quote tokens, and the
/// string and character literals of the template language.
enum GoQuote {
    private static let lowerHex = Array("0123456789abcdef".unicodeScalars)
    private static let upperHex = Array("0123456789ABCDEF".unicodeScalars)

    /// unicode.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space.
    static func isPrint(_ r: Unicode.Scalar) -> Bool {
        if r == " " { return true }
        switch r.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter,
             .nonspacingMark, .spacingMark, .enclosingMark,
             .decimalNumber, .letterNumber, .otherNumber,
             .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation,
             .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol:
            return true
        default:
            return false
        }
    }

    /// strconv.Quote (or QuoteToASCII): a double-quoted Go string literal.
    static func quote(_ s: String, asciiOnly: Bool = false) -> String {
        var out = "\""
        for r in s.unicodeScalars { appendEscaped(r, quote: "\"", asciiOnly: asciiOnly, into: &out) }
        out += "\""
        return out
    }

    /// strconv.QuoteRune: a single-quoted Go rune literal.
    static func quoteRune(_ r: Unicode.Scalar, asciiOnly: Bool = false) -> String {
        var out = "'"
        appendEscaped(r, quote: "'", asciiOnly: asciiOnly, into: &out)
        out += "'"
        return out
    }

    /// strconv.CanBackquote: whether `%#q` may print the string between backquotes.
    static func canBackquote(_ s: String) -> Bool {
        for r in s.unicodeScalars {
            if r == "`" || r == "\u{FEFF}" { return false }
            if r.value < 0x20 && r != "\t" { return false }
            if r.value == 0x7F { return false }
        }
        return true
    }

    /// fmt's `%#U`: `U+0041 'A'`, the quoted character only when it is printable.
    static func unicodeDescription(_ r: Unicode.Scalar) -> String {
        var text = "U+" + hex(r.value, minimumDigits: 4, upper: true)
        if isPrint(r) { text += " '" + String(Character(r)) + "'" }
        return text
    }

    static func hex(_ value: UInt32, minimumDigits: Int, upper: Bool) -> String {
        let digits = upper ? upperHex : lowerHex
        var scalars: [Unicode.Scalar] = []
        var rest = value
        repeat {
            scalars.append(digits[Int(rest & 0xF)])
            rest >>= 4
        } while rest > 0
        while scalars.count < minimumDigits { scalars.append("0") }
        return String(String.UnicodeScalarView(scalars.reversed()))
    }

    private static func appendEscaped(_ r: Unicode.Scalar, quote: Unicode.Scalar, asciiOnly: Bool, into out: inout String) {
        if r == quote || r == "\\" {
            out += "\\"
            out.unicodeScalars.append(r)
            return
        }
        if asciiOnly {
            if r.value < 0x80 && isPrint(r) {
                out.unicodeScalars.append(r)
                return
            }
        } else if isPrint(r) {
            out.unicodeScalars.append(r)
            return
        }
        switch r {
        case "\u{07}": out += "\\a"
        case "\u{08}": out += "\\b"
        case "\u{0C}": out += "\\f"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\u{0B}": out += "\\v"
        default:
            if r.value < 0x20 || r.value == 0x7F {
                out += "\\x" + hex(r.value, minimumDigits: 2, upper: false)
            } else if r.value < 0x10000 {
                out += "\\u" + hex(r.value, minimumDigits: 4, upper: false)
            } else {
                out += "\\U" + hex(r.value, minimumDigits: 8, upper: false)
            }
        }
    }

    struct SyntaxError: Error {}

    /// strconv.Unquote for the literals the lexer produces: "…" with Go escapes, `…` raw
    /// (carriage returns dropped, as Go does) and '…' for one character.
    static func unquote(_ literal: [Unicode.Scalar]) throws(SyntaxError) -> [UInt8] {
        guard literal.count >= 2, let quote = literal.first, literal.last == quote else { throw SyntaxError() }
        let body = literal[1..<(literal.count - 1)]
        if quote == "`" {
            return Array(String(String.UnicodeScalarView(body.filter { $0 != "\r" })).utf8)
        }
        var out: [UInt8] = []
        var i = body.startIndex
        while i < body.endIndex {
            let (bytes, next) = try unquoteCharacter(body, at: i, quote: quote)
            out.append(contentsOf: bytes)
            i = next
        }
        if quote == "'" {
            // Exactly one character between single quotes.
            guard String(decoding: out, as: UTF8.self).unicodeScalars.count == 1 else { throw SyntaxError() }
        }
        return out
    }

    /// One character or escape of a quoted literal, as UTF-8 (a `\x` or octal escape is a
    /// single raw byte, as in Go).
    private static func unquoteCharacter(_ s: ArraySlice<Unicode.Scalar>, at i: Int, quote: Unicode.Scalar)
        throws(SyntaxError) -> ([UInt8], Int)
    {
        let c = s[i]
        if c == quote && (quote == "'" || quote == "\"") { throw SyntaxError() }
        guard c == "\\" else { return (Array(String(Character(c)).utf8), i + 1) }
        guard i + 1 < s.endIndex else { throw SyntaxError() }
        let e = s[i + 1]
        func character(_ scalar: Unicode.Scalar) -> [UInt8] { Array(String(Character(scalar)).utf8) }
        switch e {
        case "a": return ([0x07], i + 2)
        case "b": return ([0x08], i + 2)
        case "f": return ([0x0C], i + 2)
        case "n": return ([0x0A], i + 2)
        case "r": return ([0x0D], i + 2)
        case "t": return ([0x09], i + 2)
        case "v": return ([0x0B], i + 2)
        case "\\": return ([0x5C], i + 2)
        case "'", "\"":
            guard e == quote else { throw SyntaxError() }
            return (character(e), i + 2)
        case "x", "u", "U":
            let length = e == "x" ? 2 : (e == "u" ? 4 : 8)
            guard i + 2 + length <= s.endIndex else { throw SyntaxError() }
            var value: UInt32 = 0
            for k in 0..<length {
                guard s[i + 2 + k].isASCII, let digit = hexValue(UInt8(s[i + 2 + k].value)) else { throw SyntaxError() }
                value = value << 4 | UInt32(digit)
            }
            if e == "x" {
                // A byte, not a character; in a rune literal it must still be one.
                if quote == "'" { return (character(Unicode.Scalar(UInt8(value))), i + 4) }
                return ([UInt8(value)], i + 4)
            }
            guard let scalar = Unicode.Scalar(value) else { throw SyntaxError() }
            return (character(scalar), i + 2 + length)
        case "0"..."7":
            guard i + 4 <= s.endIndex else { throw SyntaxError() }
            var value: UInt32 = 0
            for k in 1...3 {
                let d = s[i + k]
                guard ("0"..."7").contains(d) else { throw SyntaxError() }
                value = value * 8 + (d.value - 0x30)
            }
            guard value <= 255 else { throw SyntaxError() }
            if quote == "'" { return (character(Unicode.Scalar(UInt8(value))), i + 4) }
            return ([UInt8(value)], i + 4)
        default:
            throw SyntaxError()
        }
    }
}
