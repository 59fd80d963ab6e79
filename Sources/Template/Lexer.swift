/// The words Go's lexer treats as keywords inside an action.
enum Keyword: String, Sendable {
    case block, `break`, `continue`, define, `else`, end, `if`, `nil`, range, template, with
    case dot = "."
}

enum TokenKind: Equatable, Sendable {
    case error, bool, char, charConstant, complex, declare, assign, eof, field, identifier
    case leftDelim, leftParen, number, pipe, rawString, rightDelim, rightParen, space, string, text, variable
    case keyword(Keyword)
}

struct Token: Sendable {
    var kind: TokenKind
    /// The source text of the token, or the message of an error token.
    var text: String
    /// Offset in Unicode scalars from the start of the template.
    var offset: Int

    /// How Go's parser names a token in `unexpected X in Y`.
    var goDescription: String {
        switch kind {
        case .eof: return "EOF"
        case .error: return text
        case .keyword: return "<\(text)>"
        default:
            if text.unicodeScalars.count > 10 {
                return GoQuote.quote(String(String.UnicodeScalarView(text.unicodeScalars.prefix(10)))) + "..."
            }
            return GoQuote.quote(text)
        }
    }
}

/// Go's text/template lexer (parse/lex.go), run to completion up front: the parser then walks
/// the tokens. Lexing stops at the first error, which becomes the last token; the parser
/// reports it when it reaches it, so errors surface in the order Go reports them.
struct Lexer {
    private let input: [Unicode.Scalar]
    private var position = 0
    private var start = 0
    private var parenDepth = 0
    private var tokens: [Token] = []

    private enum State { case text, leftDelim, insideAction, rightDelim, comment, done }

    static func tokens(of input: [Unicode.Scalar]) -> [Token] {
        var lexer = Lexer(input: input)
        var state = State.text
        while state != .done {
            switch state {
            case .text: state = lexer.lexText()
            case .leftDelim: state = lexer.lexLeftDelim()
            case .insideAction: state = lexer.lexInsideAction()
            case .rightDelim: state = lexer.lexRightDelim()
            case .comment: state = lexer.lexComment()
            case .done: break
            }
        }
        return lexer.tokens
    }

    private init(input: [Unicode.Scalar]) { self.input = input }

    // MARK: - helpers

    private var current: Unicode.Scalar? { position < input.count ? input[position] : nil }

    private mutating func next() -> Unicode.Scalar? {
        guard position < input.count else { return nil }
        position += 1
        return input[position - 1]
    }

    private func hasPrefix(_ text: String, at offset: Int) -> Bool {
        var i = offset
        for scalar in text.unicodeScalars {
            guard i >= 0, i < input.count, input[i] == scalar else { return false }
            i += 1
        }
        return true
    }

    private func find(_ text: String, from offset: Int) -> Int? {
        var i = offset
        while i < input.count {
            if hasPrefix(text, at: i) { return i }
            i += 1
        }
        return nil
    }

    private mutating func emit(_ kind: TokenKind) {
        tokens.append(Token(kind: kind, text: String(String.UnicodeScalarView(input[start..<position])), offset: start))
        start = position
    }

    private mutating func fail(_ message: String) -> State {
        tokens.append(Token(kind: .error, text: message, offset: start))
        return .done
    }

    /// `{{- ` trims: a dash and then a space, so `{{-3}}` stays the number -3.
    private func hasLeftTrimMarker(at offset: Int) -> Bool {
        offset + 1 < input.count && input[offset] == "-" && isSpace(input[offset + 1])
    }

    private func hasRightTrimMarker(at offset: Int) -> Bool {
        offset >= 0 && offset + 1 < input.count && isSpace(input[offset]) && input[offset + 1] == "-"
    }

    private func atRightDelim() -> (delim: Bool, trim: Bool) {
        if hasPrefix("}}", at: position) { return (true, false) }
        if hasRightTrimMarker(at: position) && hasPrefix("}}", at: position + 2) { return (true, true) }
        return (false, false)
    }

    private func leadingSpaceCount(from offset: Int) -> Int {
        var i = offset
        while i < input.count, isSpace(input[i]) { i += 1 }
        return i - offset
    }

    // MARK: - states

    private mutating func lexText() -> State {
        guard let delim = find("{{", from: position) else {
            position = input.count
            if position > start { emit(.text) }
            emit(.eof)
            return .done
        }
        var trimmed = 0
        if hasLeftTrimMarker(at: delim + 2) {
            var i = delim
            while i > start, isSpace(input[i - 1]) { i -= 1 }
            trimmed = delim - i
        }
        position = delim - trimmed
        if position > start { emit(.text) }
        position = delim
        start = position
        return .leftDelim
    }

    private mutating func lexLeftDelim() -> State {
        position += 2
        let afterMarker = hasLeftTrimMarker(at: position) ? 2 : 0
        if hasPrefix("/*", at: position + afterMarker) {
            position += afterMarker
            start = position
            return .comment
        }
        emit(.leftDelim)
        position += afterMarker
        start = position
        parenDepth = 0
        return .insideAction
    }

    private mutating func lexComment() -> State {
        position += 2
        guard let end = find("*/", from: position) else { return fail("unclosed comment") }
        position = end + 2
        let (delim, trim) = atRightDelim()
        guard delim else { return fail("comment ends before closing delimiter") }
        if trim { position += 2 }
        position += 2
        if trim { position += leadingSpaceCount(from: position) }
        start = position
        return .text
    }

    private mutating func lexRightDelim() -> State {
        let trim = hasRightTrimMarker(at: position)
        if trim {
            position += 2
            start = position
        }
        position += 2
        emit(.rightDelim)
        if trim {
            position += leadingSpaceCount(from: position)
            start = position
        }
        return .text
    }

    private mutating func lexInsideAction() -> State {
        if atRightDelim().delim {
            return parenDepth == 0 ? .rightDelim : fail("unclosed left paren")
        }
        guard let r = next() else { return fail("unclosed action") }
        switch r {
        case _ where isSpace(r):
            position -= 1
            return lexSpace()
        case "=": emit(.assign)
        case ":":
            guard next() == "=" else { return fail("expected :=") }
            emit(.declare)
        case "|": emit(.pipe)
        case "\"": return lexQuote()
        case "`": return lexRawQuote()
        case "$": return lexVariable()
        case "'": return lexChar()
        case ".":
            // `.Field` unless a digit follows, which makes `.5` a number.
            if let c = current, !("0"..."9").contains(c) { return lexFieldOrVariable(.field) }
            position -= 1
            return lexNumber()
        case "+", "-", "0"..."9":
            position -= 1
            return lexNumber()
        case _ where isAlphaNumeric(r):
            position -= 1
            return lexIdentifier()
        case "(":
            emit(.leftParen)
            parenDepth += 1
        case ")":
            emit(.rightParen)
            parenDepth -= 1
            if parenDepth < 0 { return fail("unexpected right paren") }
        case _ where r.value < 0x7F && r.value >= 0x20:
            emit(.char)
        default:
            return fail("unrecognized character in action: \(GoQuote.unicodeDescription(r))")
        }
        return .insideAction
    }

    private mutating func lexSpace() -> State {
        var count = 0
        while let c = current, isSpace(c) {
            position += 1
            count += 1
        }
        // The run may end in the space of a " -}}" trim marker; leave that for the delimiter.
        if hasRightTrimMarker(at: position - 1) && hasPrefix("}}", at: position + 1) {
            position -= 1
            if count == 1 { return .rightDelim }
        }
        emit(.space)
        return .insideAction
    }

    private mutating func lexIdentifier() -> State {
        while let c = current, isAlphaNumeric(c) { position += 1 }
        let word = String(String.UnicodeScalarView(input[start..<position]))
        guard atTerminator() else { return fail("bad character \(GoQuote.unicodeDescription(current ?? " "))") }
        if let keyword = Keyword(rawValue: word), keyword != .dot {
            emit(.keyword(keyword))
        } else if word == "true" || word == "false" {
            emit(.bool)
        } else {
            emit(.identifier)
        }
        return .insideAction
    }

    private mutating func lexVariable() -> State {
        if atTerminator() {
            emit(.variable)
            return .insideAction
        }
        return lexFieldOrVariable(.variable)
    }

    /// After the `.` or `$`: a bare one is dot or `$`, else the name runs to a terminator.
    private mutating func lexFieldOrVariable(_ kind: TokenKind) -> State {
        if atTerminator() {
            emit(kind == .variable ? .variable : .keyword(.dot))
            return .insideAction
        }
        while let c = current, isAlphaNumeric(c) { position += 1 }
        guard atTerminator() else { return fail("bad character \(GoQuote.unicodeDescription(current ?? " "))") }
        emit(kind)
        return .insideAction
    }

    /// What may follow a name: this is what splits `.X.Y` in two and rejects `$x+2`.
    private func atTerminator() -> Bool {
        guard let r = current else { return true }
        if isSpace(r) { return true }
        switch r {
        case ".", ",", "|", ":", ")", "(", "=", "}": return true
        default: return false
        }
    }

    private mutating func lexChar() -> State {
        while true {
            switch next() {
            case "\\":
                if let r = next(), r != "\n" { continue }
                return fail("unterminated character constant")
            case nil, "\n":
                return fail("unterminated character constant")
            case "'":
                emit(.charConstant)
                return .insideAction
            default:
                continue
            }
        }
    }

    private mutating func lexQuote() -> State {
        while true {
            switch next() {
            case "\\":
                if let r = next(), r != "\n" { continue }
                return fail("unterminated quoted string")
            case nil, "\n":
                return fail("unterminated quoted string")
            case "\"":
                emit(.string)
                return .insideAction
            default:
                continue
            }
        }
    }

    private mutating func lexRawQuote() -> State {
        while true {
            switch next() {
            case nil:
                return fail("unterminated raw quoted string")
            case "`":
                emit(.rawString)
                return .insideAction
            default:
                continue
            }
        }
    }

    private mutating func lexNumber() -> State {
        guard scanNumber() else { return fail("bad number syntax: \(GoQuote.quote(sourceSinceStart))") }
        if let sign = current, sign == "+" || sign == "-" {
            // Go's complex constants, 1+2i: lexed so they can be refused by name.
            guard scanNumber(), input[position - 1] == "i" else {
                return fail("bad number syntax: \(GoQuote.quote(sourceSinceStart))")
            }
            emit(.complex)
        } else {
            emit(.number)
        }
        return .insideAction
    }

    private var sourceSinceStart: String { String(String.UnicodeScalarView(input[start..<position])) }

    private mutating func accept(_ valid: String) -> Bool {
        if let c = current, valid.unicodeScalars.contains(c) {
            position += 1
            return true
        }
        return false
    }

    private mutating func acceptRun(_ valid: String) {
        while accept(valid) {}
    }

    /// Deliberately loose, like Go's: strconv (here, the parser) rejects what slips through.
    private mutating func scanNumber() -> Bool {
        _ = accept("+-")
        var digits = "0123456789_"
        if accept("0") {
            if accept("xX") {
                digits = "0123456789abcdefABCDEF_"
            } else if accept("oO") {
                digits = "01234567_"
            } else if accept("bB") {
                digits = "01_"
            }
        }
        acceptRun(digits)
        if accept(".") { acceptRun(digits) }
        if digits.count == 11 && accept("eE") {
            _ = accept("+-")
            acceptRun("0123456789_")
        }
        if digits.count == 23 && accept("pP") {
            _ = accept("+-")
            acceptRun("0123456789_")
        }
        _ = accept("i")
        if let c = current, isAlphaNumeric(c) {
            position += 1
            return false
        }
        return true
    }
}

func isSpace(_ r: Unicode.Scalar) -> Bool {
    r == " " || r == "\t" || r == "\r" || r == "\n"
}

func isAlphaNumeric(_ r: Unicode.Scalar) -> Bool {
    if r == "_" { return true }
    switch r.properties.generalCategory {
    case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter, .decimalNumber:
        return true
    default:
        return false
    }
}
