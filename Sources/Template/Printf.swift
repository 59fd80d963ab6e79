/// Go's fmt for the values a template handles: what `{{.X}}`, print, println and printf write.
///
/// Values print as Go prints the interface{} values decoded JSON holds: arrays as `[a b]`,
/// objects as `map[k:v]` with sorted keys, nil as `<nil>`; a verb that does not fit its
/// operand prints as fmt's `%!d(string=x)`.
enum GoFormat {
    /// fmt.Sprint: spaces go between operands when neither side is a string.
    static func sprint(_ args: [TemplateValue]) -> String {
        var printer = Printer()
        var previousWasString = false
        for (i, arg) in args.enumerated() {
            let isString: Bool
            if case .string = arg { isString = true } else { isString = false }
            if i > 0 && !isString && !previousWasString { printer.output += " " }
            printer.printArgument(arg, verb: "v")
            previousWasString = isString
        }
        return printer.output
    }

    /// fmt.Sprintln: always a space between operands, and a newline after them.
    static func sprintln(_ args: [TemplateValue]) -> String {
        var printer = Printer()
        for (i, arg) in args.enumerated() {
            if i > 0 { printer.output += " " }
            printer.printArgument(arg, verb: "v")
        }
        printer.output += "\n"
        return printer.output
    }

    static func sprintf(_ format: String, _ args: [TemplateValue]) -> String {
        var printer = Printer()
        printer.printFormatted(Array(format.unicodeScalars), args)
        return printer.output
    }
}

private struct Flags {
    var plus = false
    var minus = false
    var sharp = false
    var space = false
    var zero = false
    /// `%+v` and `%#v`, which fmt separates from `+` and `#`.
    var plusV = false
    var sharpV = false
    var width: Int?
    var precision: Int?
}

private struct Printer {
    var output = ""
    var flags = Flags()

    // MARK: - printf

    /// fmt's doPrintf: flags, `[n]` argument indexes, `*` widths and precisions, and its
    /// complaints (`%!d(MISSING)`, `%!(EXTRA int=1)`, `%!(NOVERB)`) written into the output.
    mutating func printFormatted(_ format: [Unicode.Scalar], _ args: [TemplateValue]) {
        var argNum = 0
        var reordered = false
        var i = 0
        let end = format.count
        while i < end {
            var goodArgNum = true
            let literalStart = i
            while i < end && format[i] != "%" { i += 1 }
            if i > literalStart { output.unicodeScalars.append(contentsOf: format[literalStart..<i]) }
            if i >= end { break }
            i += 1
            flags = Flags()
            flagLoop: while i < end {
                switch format[i] {
                case "#": flags.sharp = true
                case "0": flags.zero = !flags.minus
                case "+": flags.plus = true
                case "-":
                    flags.minus = true
                    flags.zero = false
                case " ": flags.space = true
                default: break flagLoop
                }
                i += 1
            }

            var afterIndex = false
            func argumentNumber(_ i: inout Int) -> Bool {
                // `[n]` picks argument n (1-based) for what follows.
                guard i < end, format[i] == "[" else { return false }
                reordered = true
                guard let close = format[(i + 1)...].firstIndex(of: "]") else {
                    // No closing bracket: Go skips just the `[`.
                    goodArgNum = false
                    i += 1
                    return false
                }
                var j = i + 1
                let n = number(format, &j)
                i = close + 1
                guard let n, j == close else {
                    goodArgNum = false
                    return false
                }
                if n >= 1 && n <= args.count {
                    argNum = n - 1
                } else {
                    goodArgNum = false
                }
                return true
            }

            afterIndex = argumentNumber(&i)
            if i < end && format[i] == "*" {
                i += 1
                let (value, ok) = intArgument(args, &argNum)
                if ok {
                    flags.width = abs(value)
                    if value < 0 {
                        flags.minus = true
                        flags.zero = false
                    }
                } else {
                    output += "%!(BADWIDTH)"
                }
                afterIndex = false
            } else {
                flags.width = number(format, &i)
                if afterIndex && flags.width != nil { goodArgNum = false }
            }
            if i + 1 < end && format[i] == "." {
                i += 1
                if afterIndex { goodArgNum = false }
                afterIndex = argumentNumber(&i)
                if i < end && format[i] == "*" {
                    i += 1
                    let (value, ok) = intArgument(args, &argNum)
                    if ok && value >= 0 {
                        flags.precision = value
                    } else {
                        // A negative precision makes no sense: Go reports it like a bad one.
                        flags.precision = nil
                        output += "%!(BADPREC)"
                    }
                    afterIndex = false
                } else {
                    flags.precision = number(format, &i) ?? 0
                }
            }
            if !afterIndex { afterIndex = argumentNumber(&i) }
            if i >= end {
                output += "%!(NOVERB)"
                break
            }
            let verb = format[i]
            i += 1
            if verb == "%" {
                output += "%"
            } else if !goodArgNum {
                output += "%!" + String(Character(verb)) + "(BADINDEX)"
            } else if argNum >= args.count {
                output += "%!" + String(Character(verb)) + "(MISSING)"
            } else {
                if verb == "v" {
                    flags.sharpV = flags.sharp
                    flags.sharp = false
                    flags.plusV = flags.plus
                    flags.plus = false
                }
                printArgument(args[argNum], verb: verb)
                argNum += 1
            }
        }
        if !reordered && argNum < args.count {
            flags = Flags()
            output += "%!(EXTRA "
            for (k, arg) in args[argNum...].enumerated() {
                if k > 0 { output += ", " }
                if case .null = arg {
                    output += "<nil>"
                } else {
                    output += arg.goTypeName + "="
                    printArgument(arg, verb: "v")
                }
            }
            output += ")"
        }
    }

    private func digit(_ r: Unicode.Scalar) -> Int? {
        ("0"..."9").contains(r) ? Int(r.value - 0x30) : nil
    }

    /// A width or precision written in the format; absurd sizes count as absent, as in Go.
    private func number(_ format: [Unicode.Scalar], _ i: inout Int) -> Int? {
        var n = 0
        var found = false
        while i < format.count, let d = digit(format[i]) {
            if n > 1_000_000 { return nil }
            n = n * 10 + d
            found = true
            i += 1
        }
        return found ? n : nil
    }

    private func intArgument(_ args: [TemplateValue], _ argNum: inout Int) -> (Int, Bool) {
        guard argNum < args.count else { return (0, false) }
        defer { argNum += 1 }
        guard case .int(let value) = args[argNum], value.magnitude <= 1_000_000 else { return (0, false) }
        return (Int(value), true)
    }

    // MARK: - operands

    /// fmt's printArg: a top-level operand.
    mutating func printArgument(_ arg: TemplateValue, verb: Unicode.Scalar) {
        if case .null = arg {
            if verb == "v" || verb == "T" { pad("<nil>") } else { badVerb(verb, arg) }
            return
        }
        if verb == "T" {
            formatString(arg.goTypeName, verb: "s")
            return
        }
        printValue(arg, verb: verb, depth: 0)
    }

    /// fmt's printValue: composites apply the verb (and its width) to each element.
    mutating func printValue(_ value: TemplateValue, verb: Unicode.Scalar, depth: Int) {
        switch value {
        case .null:
            // A nil inside a composite prints bare, whatever the verb.
            output += flags.sharpV ? "interface {}(nil)" : "<nil>"
        case .bool(let b):
            if verb == "t" || verb == "v" { pad(b ? "true" : "false") } else { badVerb(verb, value) }
        case .int(let i):
            formatInteger(i, verb: verb)
        case .double(let d):
            formatFloat(d, verb: verb)
        case .string(let s):
            switch verb {
            case "v": flags.sharpV ? formatQuoted(s) : formatString(s, verb: "s")
            case "s": formatString(s, verb: "s")
            case "q": formatQuoted(s)
            case "x", "X": formatHexString(s, upper: verb == "X")
            default: badVerb(verb, value)
            }
        case .array(let elements):
            output += flags.sharpV ? "[]interface {}{" : "["
            for (i, element) in elements.enumerated() {
                if i > 0 { output += flags.sharpV ? ", " : " " }
                printValue(element, verb: verb, depth: depth + 1)
            }
            output += flags.sharpV ? "}" : "]"
        case .object(let pairs):
            output += flags.sharpV ? "map[string]interface {}{" : "map["
            for (i, entry) in TemplateValue.mapEntries(pairs).enumerated() {
                if i > 0 { output += flags.sharpV ? ", " : " " }
                printValue(.string(entry.key), verb: verb, depth: depth + 1)
                output += ":"
                printValue(entry.value, verb: verb, depth: depth + 1)
            }
            output += flags.sharpV ? "}" : "]"
        case .method:
            pad("<func>")
        }
    }

    /// `%!d(string=abc)`: the verb did not fit; the operand follows with its type, printed
    /// with `%v` but the same flags.
    private mutating func badVerb(_ verb: Unicode.Scalar, _ value: TemplateValue) {
        output += "%!" + String(Character(verb)) + "("
        if case .null = value {
            output += "<nil>"
        } else {
            output += value.goTypeName + "="
            let saved = flags
            flags.sharpV = false
            printValue(value, verb: "v", depth: 0)
            flags = saved
        }
        output += ")"
    }

    // MARK: - padding

    private mutating func writePadding(_ count: Int) {
        guard count > 0 else { return }
        let character: Character = flags.zero && !flags.minus ? "0" : " "
        output += String(repeating: character, count: count)
    }

    /// Pads to the width, counted in Unicode scalars as Go counts runes.
    private mutating func pad(_ text: String) {
        guard let width = flags.width, width > 0 else {
            output += text
            return
        }
        let fill = width - text.unicodeScalars.count
        if flags.minus {
            output += text
            writePadding(fill)
        } else {
            writePadding(fill)
            output += text
        }
    }

    // MARK: - strings

    private func truncated(_ s: String) -> String {
        guard let precision = flags.precision else { return s }
        return String(String.UnicodeScalarView(s.unicodeScalars.prefix(precision)))
    }

    private mutating func formatString(_ s: String, verb: Unicode.Scalar) {
        pad(truncated(s))
    }

    private mutating func formatQuoted(_ s: String) {
        let s = truncated(s)
        if flags.sharp && GoQuote.canBackquote(s) {
            pad("`" + s + "`")
        } else {
            pad(GoQuote.quote(s, asciiOnly: flags.plus))
        }
    }

    /// `%x` of a string: its bytes in hex; `% x` spaces them, `%#x` prefixes 0x.
    private mutating func formatHexString(_ s: String, upper: Bool) {
        var bytes = Array(s.utf8)
        if let precision = flags.precision, precision < bytes.count { bytes = Array(bytes.prefix(precision)) }
        var width = 2 * bytes.count
        if bytes.isEmpty {
            if let w = flags.width { writePadding(w) }
            return
        }
        if flags.space {
            if flags.sharp { width *= 2 }
            width += bytes.count - 1
        } else if flags.sharp {
            width += 2
        }
        if let w = flags.width, w > width, !flags.minus { writePadding(w - width) }
        let prefix = upper ? "0X" : "0x"
        if flags.sharp { output += prefix }
        for (i, byte) in bytes.enumerated() {
            if flags.space && i > 0 {
                output += " "
                if flags.sharp { output += prefix }
            }
            output += GoQuote.hex(UInt32(byte), minimumDigits: 2, upper: upper)
        }
        if let w = flags.width, w > width, flags.minus { writePadding(w - width) }
    }

    // MARK: - integers

    private mutating func formatInteger(_ value: Int64, verb: Unicode.Scalar) {
        switch verb {
        case "v", "d": formatInteger(value, base: 10, verb: verb, upper: false)
        case "b": formatInteger(value, base: 2, verb: verb, upper: false)
        case "o", "O": formatInteger(value, base: 8, verb: verb, upper: false)
        case "x": formatInteger(value, base: 16, verb: verb, upper: false)
        case "X": formatInteger(value, base: 16, verb: verb, upper: true)
        case "c": pad(String(Character(rune(value))))
        case "q": pad(GoQuote.quoteRune(rune(value), asciiOnly: flags.plus))
        case "U": formatUnicode(value)
        default: badVerb(verb, .int(value))
        }
    }

    private func rune(_ value: Int64) -> Unicode.Scalar {
        guard value >= 0, value <= 0x10FFFF, let scalar = Unicode.Scalar(UInt32(value)) else { return "\u{FFFD}" }
        return scalar
    }

    /// fmt's fmtInteger: precision is a minimum digit count; zero padding counts the sign.
    private mutating func formatInteger(_ value: Int64, base: Int, verb: Unicode.Scalar, upper: Bool) {
        let negative = value < 0
        var digits = String(value.magnitude, radix: base, uppercase: upper)
        var minimumDigits = 0
        if let precision = flags.precision {
            if precision == 0 && value == 0 {
                let zero = flags.zero
                flags.zero = false
                if let width = flags.width { writePadding(width) }
                flags.zero = zero
                return
            }
            minimumDigits = precision
        } else if flags.zero && !flags.minus, let width = flags.width {
            minimumDigits = width
            if negative || flags.plus || flags.space { minimumDigits -= 1 }
        }
        if digits.count < minimumDigits { digits = String(repeating: "0", count: minimumDigits - digits.count) + digits }
        if flags.sharp {
            switch base {
            case 2: digits = "0b" + digits
            case 8: if !digits.hasPrefix("0") { digits = "0" + digits }
            case 16: digits = (upper ? "0X" : "0x") + digits
            default: break
            }
        }
        if verb == "O" { digits = "0o" + digits }
        if negative {
            digits = "-" + digits
        } else if flags.plus {
            digits = "+" + digits
        } else if flags.space {
            digits = " " + digits
        }
        // Zero padding was done as digits; what is left pads with spaces.
        let zero = flags.zero
        flags.zero = false
        pad(digits)
        flags.zero = zero
    }

    /// `%U`: U+0041, with `%#U` adding the character when it is printable.
    private mutating func formatUnicode(_ value: Int64) {
        var text = "U+" + String(value.magnitude, radix: 16, uppercase: true)
        let minimum = max(flags.precision ?? 4, 4)
        let digits = text.count - 2
        if digits < minimum {
            text = "U+" + String(repeating: "0", count: minimum - digits) + text.dropFirst(2)
        }
        if value < 0 { text = "U+" + "-" + text.dropFirst(2) }
        if flags.sharp, value >= 0, value <= 0x10FFFF, let scalar = Unicode.Scalar(UInt32(value)), GoQuote.isPrint(scalar) {
            text += " '" + String(Character(scalar)) + "'"
        }
        let zero = flags.zero
        flags.zero = false
        pad(text)
        flags.zero = zero
    }

    // MARK: - floats

    private mutating func formatFloat(_ value: Double, verb: Unicode.Scalar) {
        switch verb {
        case "v": formatFloat(value, format: "g", precision: -1)
        case "g", "G", "x", "X", "b": formatFloat(value, format: verb, precision: -1)
        case "e", "E", "f": formatFloat(value, format: verb, precision: 6)
        case "F": formatFloat(value, format: "f", precision: 6)
        default: badVerb(verb, .double(value))
        }
    }

    /// fmt's fmtFloat: strconv's text, then `#`, the sign flags and zero padding after the sign.
    private mutating func formatFloat(_ value: Double, format: Unicode.Scalar, precision: Int) {
        let precision = flags.precision ?? precision
        var number = Array(FloatFormat.format(value, UInt8(format.value), precision: precision).unicodeScalars)
        if number.first != "-" && number.first != "+" { number.insert("+", at: 0) }
        if flags.space && number[0] == "+" && !flags.plus { number[0] = " " }
        if number.count > 1 && (number[1] == "I" || number[1] == "N") {
            // Infinities and NaN are words, not numbers: never zero-padded, NaN unsigned unless asked.
            let zero = flags.zero
            flags.zero = false
            if number[1] == "N" && !flags.space && !flags.plus { number.removeFirst() }
            pad(String(String.UnicodeScalarView(number)))
            flags.zero = zero
            return
        }
        if flags.sharp {
            number = sharpFloat(number, format: format, precision: precision)
        }
        if flags.plus || number[0] != "+" {
            if flags.zero && !flags.minus, let width = flags.width, width > number.count {
                output.unicodeScalars.append(number[0])
                writePadding(width - number.count)
                output.unicodeScalars.append(contentsOf: number[1...])
                return
            }
            pad(String(String.UnicodeScalarView(number)))
            return
        }
        pad(String(String.UnicodeScalarView(number[1...])))
    }

    /// `%#g` keeps trailing zeros and `%#.0f` keeps the point, as fmt does.
    private func sharpFloat(_ number: [Unicode.Scalar], format: Unicode.Scalar, precision: Int) -> [Unicode.Scalar] {
        var number = number
        var digits = 0
        if format == "g" || format == "G" { digits = precision == -1 ? 6 : precision }
        var tail: [Unicode.Scalar] = []
        var hasPoint = false
        var sawNonzero = false
        var i = 1
        while i < number.count {
            let c = number[i]
            if c == "." {
                hasPoint = true
            } else if c == "e" || c == "E" {
                tail = Array(number[i...])
                number.removeSubrange(i...)
                break
            } else {
                if c != "0" { sawNonzero = true }
                if sawNonzero { digits -= 1 }
            }
            i += 1
        }
        if !hasPoint {
            if number.count == 2 && number[1] == "0" { digits -= 1 }
            number.append(".")
        }
        while digits > 0 {
            number.append("0")
            digits -= 1
        }
        return number + tail
    }
}
