/// Go's text/template parser (parse/parse.go) over the lexer's tokens, with its error
/// messages. Like Go it checks, while parsing, that functions exist and variables are declared.
struct Parser {
    private let tokens: [Token]
    private var index = 0
    private let functions: Set<String>
    private let locator: SourceLocator
    /// Variables in scope; `$` always is.
    private var variables = ["$"]
    private var rangeDepth = 0
    /// Nesting of controls and parentheses, bounded so a hostile template cannot exhaust the stack.
    private var depth = 0
    /// The `{{` of the action being parsed, for errors that surface lines later.
    private var actionStart: Token?
    private static let maximumDepth = 100

    private enum Item {
        case node(Node)
        case end(Token)
        case elseMarker(Token)
    }

    static func parse(_ scalars: [Unicode.Scalar], functions: Set<String>, locator: SourceLocator)
        throws(TemplateError) -> [Node]
    {
        var parser = Parser(tokens: Lexer.tokens(of: scalars), functions: functions, locator: locator)
        return try parser.parseRoot()
    }

    private init(tokens: [Token], functions: Set<String>, locator: SourceLocator) {
        self.tokens = tokens
        self.functions = functions
        self.locator = locator
    }

    // MARK: - tokens

    private mutating func next() -> Token {
        let token = tokens[min(index, tokens.count - 1)]
        index += 1
        return token
    }

    private mutating func backup() { index -= 1 }

    private func peek() -> Token { tokens[min(index, tokens.count - 1)] }

    private mutating func nextNonSpace() -> Token {
        var token = next()
        while token.kind == .space { token = next() }
        return token
    }

    /// Skips spaces and returns the token after them without consuming it.
    private mutating func peekNonSpace() -> Token {
        let token = nextNonSpace()
        backup()
        return token
    }

    private func fail(_ message: String, at token: Token) -> TemplateError {
        locator.error(.parse, at: token.offset, message)
    }

    private func unexpected(_ token: Token, _ context: String) -> TemplateError {
        if token.kind == .error {
            // An action spanning lines says where it began, as Go does.
            if let start = actionStart, locator.location(of: start.offset).line != locator.location(of: token.offset).line {
                let (line, column) = locator.location(of: start.offset)
                let place = "started at \(line):\(column)"
                return fail(token.text + (token.text.hasSuffix(" action") ? " " : " in action ") + place, at: token)
            }
            return fail(token.text, at: token)
        }
        return fail("unexpected \(token.goDescription) in \(context)", at: token)
    }

    private mutating func expect(_ kind: TokenKind, _ context: String) throws(TemplateError) -> Token {
        let token = nextNonSpace()
        if token.kind != kind { throw unexpected(token, context) }
        return token
    }

    // MARK: - structure

    private mutating func parseRoot() throws(TemplateError) -> [Node] {
        var root: [Node] = []
        while peek().kind != .eof {
            switch try textOrAction() {
            case .node(let node): root.append(node)
            case .end(let token): throw fail("unexpected {{end}}", at: token)
            case .elseMarker(let token): throw fail("unexpected {{else}}", at: token)
            }
        }
        return root
    }

    /// Nodes up to the `{{end}}` or `{{else}}` that closes them, returned separately.
    private mutating func itemList() throws(TemplateError) -> (list: [Node], next: Item) {
        var list: [Node] = []
        while peekNonSpace().kind != .eof {
            let item = try textOrAction()
            switch item {
            case .node(let node): list.append(node)
            case .end, .elseMarker: return (list, item)
            }
        }
        throw fail("unexpected EOF", at: peek())
    }

    private mutating func textOrAction() throws(TemplateError) -> Item {
        let token = nextNonSpace()
        switch token.kind {
        case .text: return .node(.text(token.text))
        case .leftDelim:
            actionStart = token
            defer { actionStart = nil }
            return try action()
        default: throw unexpected(token, "input")
        }
    }

    private mutating func action() throws(TemplateError) -> Item {
        let token = nextNonSpace()
        switch token.kind {
        case .keyword(.block), .keyword(.define), .keyword(.template):
            throw fail("{{\(token.text)}} is not supported", at: token)
        case .keyword(.break), .keyword(.continue):
            let close = nextNonSpace()
            if close.kind != .rightDelim { throw unexpected(close, "{{\(token.text)}}") }
            if rangeDepth == 0 { throw fail("{{\(token.text)}} outside {{range}}", at: token) }
            return .node(token.kind == .keyword(.break) ? .breakLoop : .continueLoop)
        case .keyword(.else):
            // `{{else if …}}` and `{{else with …}}` leave the keyword for parseControl to find.
            let peeked = peekNonSpace()
            if peeked.kind != .keyword(.if) && peeked.kind != .keyword(.with) { _ = try expect(.rightDelim, "else") }
            return .elseMarker(token)
        case .keyword(.end):
            _ = try expect(.rightDelim, "end")
            return .end(token)
        case .keyword(.if):
            return .node(.ifBlock(try parseControl("if", at: token)))
        case .keyword(.range):
            return .node(.rangeBlock(try parseControl("range", at: token)))
        case .keyword(.with):
            return .node(.withBlock(try parseControl("with", at: token)))
        default:
            backup()
            return .node(.action(try pipeline("command", end: .rightDelim)))
        }
    }

    private mutating func enter(at token: Token) throws(TemplateError) {
        depth += 1
        if depth > Self.maximumDepth { throw fail("max expression depth exceeded", at: token) }
    }

    private mutating func parseControl(_ context: String, at token: Token) throws(TemplateError) -> Control {
        try enter(at: token)
        let scope = variables.count
        defer {
            variables.removeSubrange(scope...)
            depth -= 1
        }
        let pipe = try pipeline(context, end: .rightDelim)
        if context == "range" { rangeDepth += 1 }
        let (list, next) = try itemList()
        if context == "range" { rangeDepth -= 1 }
        var elseList: [Node]?
        if case .elseMarker = next {
            // `{{if a}}x{{else if b}}y{{end}}` is `{{if a}}x{{else}}{{if b}}y{{end}}{{end}}`, sharing one end.
            if context == "if" && peek().kind == .keyword(.if) {
                let keyword = self.next()
                elseList = [.ifBlock(try parseControl("if", at: keyword))]
            } else if context == "with" && peek().kind == .keyword(.with) {
                let keyword = self.next()
                elseList = [.withBlock(try parseControl("with", at: keyword))]
            } else {
                let (list, closing) = try itemList()
                if case .elseMarker(let token) = closing { throw fail("expected end; found {{else}}", at: token) }
                elseList = list
            }
        }
        return Control(pipeline: pipe, list: list, elseList: elseList)
    }

    // MARK: - pipelines

    private mutating func pipeline(_ context: String, end: TokenKind) throws(TemplateError) -> Pipeline {
        var pipe = Pipeline(offset: peekNonSpace().offset)
        declarations: while peekNonSpace().kind == .variable {
            let variableIndex = index
            let variable = next()
            let following = peekNonSpace()
            if following.kind == .assign || following.kind == .declare {
                pipe.isAssign = following.kind == .assign
                _ = nextNonSpace()
                pipe.declarations.append(Declaration(name: variable.text, offset: variable.offset))
                variables.append(variable.text)
            } else if following.kind == .char && following.text == "," {
                _ = nextNonSpace()
                pipe.declarations.append(Declaration(name: variable.text, offset: variable.offset))
                variables.append(variable.text)
                if context == "range" && pipe.declarations.count < 2 {
                    switch peekNonSpace().kind {
                    case .variable, .rightDelim, .rightParen: continue declarations
                    default: throw fail("range can only initialize variables", at: peek())
                    }
                }
                throw fail("too many declarations in \(context)", at: following)
            } else {
                // `$x` is an argument, not a declaration: read it again as one.
                index = variableIndex
            }
            break
        }
        while true {
            let token = nextNonSpace()
            if token.kind == end {
                try checkPipeline(pipe, context, at: token)
                return pipe
            }
            switch token.kind {
            case .bool, .charConstant, .complex, .keyword(.dot), .field, .identifier, .number, .keyword(.nil),
                 .rawString, .string, .variable, .leftParen:
                backup()
                pipe.commands.append(try command())
            default:
                throw unexpected(token, context)
            }
        }
    }

    private func checkPipeline(_ pipe: Pipeline, _ context: String, at token: Token) throws(TemplateError) {
        if pipe.commands.isEmpty { throw fail("missing value for \(context)", at: token) }
        // Only the first stage may be a literal: later ones receive the piped value.
        for (i, command) in pipe.commands.enumerated().dropFirst() {
            switch command.arguments[0] {
            case .bool, .dot, .nilValue, .number, .string:
                throw locator.error(.parse, at: command.offset, "non executable command in pipeline stage \(i + 1)")
            default: break
            }
        }
    }

    private mutating func command() throws(TemplateError) -> Command {
        var command = Command(offset: peekNonSpace().offset)
        let start = peek()
        loop: while true {
            _ = peekNonSpace()
            if let operand = try operand() { command.arguments.append(operand) }
            let token = next()
            switch token.kind {
            case .space: continue loop
            case .rightDelim, .rightParen: backup()
            case .pipe: break
            default: throw unexpected(token, "operand")
            }
            break loop
        }
        if command.arguments.isEmpty { throw fail("empty command", at: start) }
        return command
    }

    /// A term and the fields that follow it with no space: `.A.B`, `$x.A`, `(pipe).A`.
    private mutating func operand() throws(TemplateError) -> Operand? {
        guard let term = try term() else { return nil }
        guard peek().kind == .field else { return term }
        let chainOffset = peek().offset
        var fields: [String] = []
        while peek().kind == .field { fields.append(String(next().text.dropFirst())) }
        switch term {
        case .field(let offset, let names):
            return .field(offset: offset, names: names + fields)
        case .variable(let offset, let name, let existing):
            return .variable(offset: offset, name: name, fields: existing + fields)
        case .bool, .string, .number, .nilValue, .dot:
            throw locator.error(.parse, at: chainOffset, "unexpected . after term \(GoQuote.quote(term.description))")
        default:
            return .chain(offset: term.offset, base: term, fields: fields)
        }
    }

    private mutating func term() throws(TemplateError) -> Operand? {
        let token = nextNonSpace()
        switch token.kind {
        case .identifier:
            guard functions.contains(token.text) else {
                throw fail("function \(GoQuote.quote(token.text)) not defined", at: token)
            }
            return .identifier(offset: token.offset, name: token.text)
        case .keyword(.dot):
            return .dot(offset: token.offset)
        case .keyword(.nil):
            return .nilValue(offset: token.offset)
        case .variable:
            guard variables.contains(token.text) else {
                throw fail("undefined variable \(GoQuote.quote(token.text))", at: token)
            }
            return .variable(offset: token.offset, name: token.text, fields: [])
        case .field:
            return .field(offset: token.offset, names: [String(token.text.dropFirst())])
        case .bool:
            return .bool(offset: token.offset, value: token.text == "true")
        case .charConstant, .number:
            return .number(offset: token.offset, literal: try number(token))
        case .complex:
            throw fail("complex number \(token.text) is not supported", at: token)
        case .leftParen:
            try enter(at: token)
            defer { depth -= 1 }
            return .pipeline(try pipeline("parenthesized pipeline", end: .rightParen))
        case .string, .rawString:
            guard let bytes = try? GoQuote.unquote(Array(token.text.unicodeScalars)) else {
                throw fail("invalid syntax", at: token)
            }
            return .string(offset: token.offset, quoted: token.text, value: String(decoding: bytes, as: UTF8.self))
        default:
            backup()
            return nil
        }
    }

    /// Go's parse.newNumber: which of int, uint and float the literal can be.
    private func number(_ token: Token) throws(TemplateError) -> NumberLiteral {
        let text = token.text
        var literal = NumberLiteral(text: text)
        if token.kind == .charConstant {
            guard let bytes = try? GoQuote.unquote(Array(text.unicodeScalars)),
                  let scalar = String(decoding: bytes, as: UTF8.self).unicodeScalars.first
            else { throw fail("malformed character constant: \(text)", at: token) }
            literal.int = Int64(scalar.value)
            literal.uint = UInt64(scalar.value)
            literal.float = Double(scalar.value)
            literal.isCharacter = true
            return literal
        }
        if text.hasSuffix("i") { throw fail("complex number \(text) is not supported", at: token) }
        literal.uint = GoNumber.parseUnsigned(text[...])
        literal.int = GoNumber.parseSigned(text)
        if literal.int == 0 { literal.uint = 0 }
        if let int = literal.int {
            literal.float = Double(int)
        } else if let uint = literal.uint {
            literal.float = Double(uint)
        } else if let float = GoNumber.parseFloat(text) {
            // Float syntax without a point or exponent means an integer too big for 64 bits.
            if !text.contains(where: { ".eEpP".contains($0) }) {
                throw fail("integer overflow: \(GoQuote.quote(text))", at: token)
            }
            literal.float = float
            // An integral value also reads as an integer (Go: `1e3` can be an int argument).
            // Truncation and comparison test that without libm's rounding functions.
            if float >= -9.223372036854775808e18 && float < 9.223372036854775808e18, Double(Int64(float)) == float {
                literal.int = Int64(float)
                if float >= 0 { literal.uint = UInt64(float) }
            }
        }
        if literal.int == nil && literal.uint == nil && literal.float == nil {
            throw fail("illegal number syntax: \(GoQuote.quote(text))", at: token)
        }
        return literal
    }
}

/// strconv's integer and float syntax with base prefixes (0x, 0o, 0b, leading 0) and `_`
/// digit separators, as Go literals have them.
enum GoNumber {
    static func parseUnsigned(_ text: Substring) -> UInt64? {
        var digits = text
        var radix = 10
        let lower = text.lowercased()
        if lower.hasPrefix("0x") {
            radix = 16
            digits = digits.dropFirst(2)
        } else if lower.hasPrefix("0o") {
            radix = 8
            digits = digits.dropFirst(2)
        } else if lower.hasPrefix("0b") {
            radix = 2
            digits = digits.dropFirst(2)
        } else if text.count > 1 && text.hasPrefix("0") {
            radix = 8
            digits = digits.dropFirst()
        }
        guard separatorsAreValid(digits, afterPrefix: radix != 10) else { return nil }
        let clean = digits.filter { $0 != "_" }
        guard !clean.isEmpty else { return nil }
        return UInt64(clean, radix: radix)
    }

    static func parseSigned(_ text: String) -> Int64? {
        var body = text[...]
        var negative = false
        if let sign = body.first, sign == "+" || sign == "-" {
            negative = sign == "-"
            body = body.dropFirst()
        }
        guard let magnitude = parseUnsigned(body) else { return nil }
        if negative {
            if magnitude == UInt64(Int64.max) + 1 { return Int64.min }
            guard magnitude <= UInt64(Int64.max) else { return nil }
            return -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }

    static func parseFloat(_ text: String) -> Double? {
        var body = text[...]
        if let sign = body.first, sign == "+" || sign == "-" { body = body.dropFirst() }
        let isHex = body.lowercased().hasPrefix("0x")
        guard separatorsAreValid(isHex ? body.dropFirst(2) : body, afterPrefix: isHex) else { return nil }
        // Only digits, point, exponent and sign: Double's parser also reads "inf" and "nan".
        let allowed = isHex ? "0123456789abcdefABCDEFxXpP.+-_" : "0123456789eE.+-_"
        guard !body.isEmpty, text.allSatisfy({ allowed.contains($0) }) else { return nil }
        return Double(text.filter { $0 != "_" })
    }

    /// An underscore must sit between digits, or right after a base prefix.
    private static func separatorsAreValid(_ digits: Substring, afterPrefix: Bool) -> Bool {
        var previousWasDigit = afterPrefix
        for character in digits {
            if character == "_" {
                if !previousWasDigit { return false }
                previousWasDigit = false
            } else {
                previousWasDigit = character.isHexDigit
            }
        }
        return previousWasDigit || digits.isEmpty
    }
}
