/// What evaluating part of a template yields: Go's reflect.Value, where `nil` is the invalid
/// value a missing map key gives (printed `<no value>`) and `.null` is a nil interface{}
/// stored in the data. Go turns the second into the first at the end of every pipeline
/// stage; only a field chain (`.Health.Status` with Health null) sees the difference.
typealias Evaluated = TemplateValue?

/// One execution of a parsed template (Go's exec.go state): the output so far and the
/// variable stack.
final class Evaluator {
    private let functions: [String: Function]
    private let locator: SourceLocator
    private(set) var output = ""
    private var variables: [(name: String, value: Evaluated)] = []

    /// The value before a pipeline stage, passed to the next one as its last argument.
    private enum Piped {
        case absent
        case value(Evaluated)
    }

    /// How a list ended: normally, or at `{{break}}` / `{{continue}}` for the nearest range.
    private enum Flow {
        case normal
        case breakLoop
        case continueLoop
    }

    init(functions: [String: Function], locator: SourceLocator) {
        self.functions = functions
        self.locator = locator
    }

    func run(_ root: [Node], data: TemplateValue) throws(TemplateError) {
        let dot: Evaluated = data == .null ? nil : data
        variables = [("$", dot)]
        _ = try walk(root, dot: dot)
    }

    private func fail(_ message: String, at offset: Int, _ context: String) -> TemplateError {
        locator.error(.execute, at: offset, context: context, message)
    }

    // MARK: - walking

    private func walk(_ nodes: [Node], dot: Evaluated) throws(TemplateError) -> Flow {
        for node in nodes {
            switch node {
            case .text(let text):
                output += text
            case .action(let pipe):
                // Variables an action declares live until the end of the enclosing block.
                let value = try evalPipeline(pipe, dot: dot)
                if pipe.declarations.isEmpty { try printValue(value, pipe) }
            case .ifBlock(let control), .withBlock(let control):
                let scope = variables.count
                defer { variables.removeSubrange(scope...) }
                let value = try evalPipeline(control.pipeline, dot: dot)
                let flow: Flow
                if value?.isTruthy ?? false {
                    // `with` moves dot to the value; `if` leaves it.
                    let inner: Evaluated
                    if case .withBlock = node { inner = value } else { inner = dot }
                    flow = try walk(control.list, dot: inner)
                } else if let elseList = control.elseList {
                    flow = try walk(elseList, dot: dot)
                } else {
                    flow = .normal
                }
                if case .normal = flow { continue }
                return flow
            case .rangeBlock(let control):
                let flow = try walkRange(control, dot: dot)
                if case .normal = flow { continue }
                return flow
            case .breakLoop:
                return .breakLoop
            case .continueLoop:
                return .continueLoop
            }
        }
        return .normal
    }

    /// Runs a range; it returns `.continueLoop` when its else list ran into a `{{continue}}`,
    /// which belongs to an enclosing range.
    private func walkRange(_ control: Control, dot: Evaluated) throws(TemplateError) -> Flow {
        let scope = variables.count
        defer { variables.removeSubrange(scope...) }
        let pipe = control.pipeline
        let value = try evalPipeline(pipe, dot: dot)
        let bodyScope = variables.count
        let declarations = pipe.declarations

        func iterate(index: Evaluated, element: Evaluated) throws(TemplateError) -> Flow {
            // With one variable it takes the element; with two, the index and the element.
            if pipe.isAssign {
                if declarations.count > 1 {
                    try setVariable(declarations[0], to: index)
                    try setVariable(declarations[1], to: element)
                } else if let only = declarations.first {
                    try setVariable(only, to: element)
                }
            } else {
                if !declarations.isEmpty { variables[variables.count - 1].value = element }
                if declarations.count > 1 { variables[variables.count - 2].value = index }
            }
            defer { variables.removeSubrange(bodyScope...) }
            return try walk(control.list, dot: element)
        }

        var ranOnce = false
        switch value {
        case .int(let count)?:
            // Go 1.22 ranges over an integer: 0, 1, … count-1.
            if declarations.count > 1 {
                throw fail("can't use \(count) to iterate over more than one variable", at: pipe.offset, pipe.description)
            }
            var i: Int64 = 0
            while i < count {
                ranOnce = true
                if case .breakLoop = try iterate(index: nil, element: .int(i)) { break }
                i += 1
            }
        case .array(let elements)?:
            for (i, element) in elements.enumerated() {
                ranOnce = true
                if case .breakLoop = try iterate(index: .int(Int64(i)), element: element) { break }
            }
        case .object(let pairs)?:
            // Go visits a map in sorted key order.
            for entry in TemplateValue.mapEntries(pairs) {
                ranOnce = true
                if case .breakLoop = try iterate(index: .string(entry.key), element: entry.value) { break }
            }
        case nil, .null?:
            break
        case let other?:
            throw fail("range can't iterate over \(GoFormat.sprint([other]))", at: pipe.offset, pipe.description)
        }
        if !ranOnce, let elseList = control.elseList {
            // Go catches a break at the innermost range running, even one in its else list,
            // while a continue travels on to the enclosing range's iteration.
            if case .continueLoop = try walk(elseList, dot: dot) { return .continueLoop }
        }
        return .normal
    }

    private func printValue(_ value: Evaluated, _ pipe: Pipeline) throws(TemplateError) {
        guard let value else {
            output += "<no value>"
            return
        }
        if case .method = value {
            throw fail("can't print \(pipe) of type func", at: pipe.offset, pipe.description)
        }
        output += GoFormat.sprint([value])
    }

    // MARK: - variables

    private func variable(_ name: String, at offset: Int) throws(TemplateError) -> Evaluated {
        if let entry = variables.last(where: { $0.name == name }) { return entry.value }
        throw fail("undefined variable: \(name)", at: offset, name)
    }

    private func setVariable(_ declaration: Declaration, to value: Evaluated) throws(TemplateError) {
        guard let i = variables.lastIndex(where: { $0.name == declaration.name }) else {
            throw fail("undefined variable: \(declaration.name)", at: declaration.offset, declaration.name)
        }
        variables[i].value = value
    }

    // MARK: - pipelines and commands

    private func evalPipeline(_ pipe: Pipeline, dot: Evaluated) throws(TemplateError) -> Evaluated {
        var piped = Piped.absent
        var value: Evaluated = nil
        for command in pipe.commands {
            value = try evalCommand(command, dot: dot, final: piped)
            if case .null? = value { value = nil }
            piped = .value(value)
        }
        for declaration in pipe.declarations {
            if pipe.isAssign {
                try setVariable(declaration, to: value)
            } else {
                variables.append((declaration.name, value))
            }
        }
        return value
    }

    private func notAFunction(_ command: Command, _ final: Piped) throws(TemplateError) {
        let hasFinal: Bool
        if case .value = final { hasFinal = true } else { hasFinal = false }
        if command.arguments.count > 1 || hasFinal {
            let first = command.arguments[0]
            throw fail("can't give argument to non-function \(first)", at: first.offset, first.description)
        }
    }

    private func evalCommand(_ command: Command, dot: Evaluated, final: Piped) throws(TemplateError) -> Evaluated {
        let first = command.arguments[0]
        let rest = command.arguments.dropFirst()
        switch first {
        case .field(_, let names):
            return try evalFieldChain(dot: dot, receiver: dot, names: names, operand: first, arguments: rest, final: final)
        case .chain(_, let base, let names):
            let receiver = try evalChainBase(base, dot: dot)
            return try evalFieldChain(dot: dot, receiver: receiver, names: names, operand: first, arguments: rest, final: final)
        case .identifier(let offset, let name):
            return try evalFunction(name, at: offset, command: command, arguments: rest, final: final, dot: dot)
        case .pipeline(let pipe):
            try notAFunction(command, final)
            return try evalPipeline(pipe, dot: dot)
        case .variable(let offset, let name, let names):
            let value = try variable(name, at: offset)
            if names.isEmpty {
                try notAFunction(command, final)
                return value
            }
            return try evalFieldChain(dot: dot, receiver: value, names: names, operand: first, arguments: rest, final: final)
        case .bool(_, let b):
            try notAFunction(command, final)
            return .bool(b)
        case .dot:
            try notAFunction(command, final)
            return dot
        case .nilValue(let offset):
            try notAFunction(command, final)
            throw fail("nil is not a command", at: offset, "nil")
        case .number(let offset, let literal):
            try notAFunction(command, final)
            return try idealConstant(literal, at: offset)
        case .string(_, _, let value):
            try notAFunction(command, final)
            return .string(value)
        }
    }

    /// A number whose type nothing else decides: the literal's syntax does, as in Go.
    private func idealConstant(_ literal: NumberLiteral, at offset: Int) throws(TemplateError) -> Evaluated {
        if literal.isCharacter, let int = literal.int { return .int(int) }
        let text = literal.text.lowercased()
        let isHexInteger = text.hasPrefix("0x") || text.hasPrefix("-0x") || text.hasPrefix("+0x")
        if let float = literal.float, !(isHexInteger && !text.contains("p")), text.contains(where: { ".ep".contains($0) }) {
            return .double(float)
        }
        if let int = literal.int { return .int(int) }
        if literal.uint != nil { throw fail("\(literal.text) overflows int", at: offset, literal.text) }
        return nil
    }

    // MARK: - fields

    /// What `(…).Field` reads from. Unlike an argument, a missing value stays missing, so its
    /// fields are `<no value>` rather than a nil pointer error, as in Go.
    private func evalChainBase(_ base: Operand, dot: Evaluated) throws(TemplateError) -> Evaluated {
        switch base {
        case .pipeline(let pipe):
            return try evalPipeline(pipe, dot: dot)
        case .identifier(let offset, let name):
            return try evalFunction(name, at: offset, command: nil, arguments: [], final: .absent, dot: dot)
        default:
            return try evalArgument(base, as: .any, dot: dot)
        }
    }

    /// `.A.B.C` from `receiver`: every field but the last is read plainly; the last gets the
    /// command's arguments, which only a method can take.
    private func evalFieldChain(
        dot: Evaluated, receiver: Evaluated, names: [String], operand: Operand,
        arguments: ArraySlice<Operand>, final: Piped
    ) throws(TemplateError) -> Evaluated {
        var receiver = receiver
        for name in names.dropLast() {
            receiver = try evalField(name, of: receiver, operand: operand, arguments: [], final: .absent, dot: dot)
        }
        guard let last = names.last else { return receiver }
        return try evalField(last, of: receiver, operand: operand, arguments: arguments, final: final, dot: dot)
    }

    private func evalField(
        _ name: String, of receiver: Evaluated, operand: Operand,
        arguments: ArraySlice<Operand>, final: Piped, dot: Evaluated
    ) throws(TemplateError) -> Evaluated {
        guard let receiver else { return nil }
        let context = operand.description
        let offset = operand.offset
        switch receiver {
        case .null:
            throw fail("nil pointer evaluating interface {}.\(name)", at: offset, context)
        case .object(let pairs):
            let hasArguments: Bool
            if case .value = final { hasArguments = true } else { hasArguments = !arguments.isEmpty }
            guard let value = pairs.last(where: { $0.key == name })?.value else {
                if hasArguments { throw fail("\(name) is not a method but has arguments", at: offset, context) }
                return nil
            }
            if case .method(let method) = value {
                var argv: [TemplateValue] = []
                for argument in arguments { argv.append(try evalArgument(argument, as: .any, dot: dot)) }
                if case .value(let piped) = final { argv.append(piped ?? .null) }
                do {
                    return try method(argv)
                } catch {
                    throw fail("error calling \(name): \(error)", at: offset, context)
                }
            }
            if hasArguments { throw fail("\(name) is not a method but has arguments", at: offset, context) }
            return value
        default:
            throw fail("can't evaluate field \(name) in type \(receiver.goTypeName)", at: offset, context)
        }
    }

    // MARK: - functions

    private func evalFunction(
        _ name: String, at offset: Int, command: Command?, arguments: ArraySlice<Operand>, final: Piped, dot: Evaluated
    ) throws(TemplateError) -> Evaluated {
        guard let function = functions[name] else {
            throw fail("\(GoQuote.quote(name)) is not a defined function", at: offset, name)
        }
        let callContext = command?.description ?? name
        let callOffset = command?.offset ?? offset
        var count = arguments.count
        if case .value = final { count += 1 }
        if function.variadic != nil {
            if count < function.parameters.count {
                throw fail("wrong number of args for \(name): want at least \(function.parameters.count) got \(arguments.count)",
                           at: offset, name)
            }
        } else if count != function.parameters.count {
            throw fail("wrong number of args for \(name): want \(function.parameters.count) got \(count)", at: offset, name)
        }

        if name == "and" || name == "or" {
            // Both stop at the first argument that settles the answer, and return it.
            let stopOn = name == "or"
            var value: TemplateValue = .null
            for argument in arguments {
                value = try evalArgument(argument, as: .any, dot: dot)
                if value.isTruthy == stopOn { return value }
            }
            if case .value(let piped) = final { value = piped ?? .null }
            return value
        }

        var argv: [TemplateValue] = []
        for (i, argument) in arguments.enumerated() {
            let type = i < function.parameters.count ? function.parameters[i] : (function.variadic ?? .any)
            argv.append(try evalArgument(argument, as: type, dot: dot))
        }
        if case .value(let piped) = final {
            let position = count - 1
            let type = position < function.parameters.count ? function.parameters[position] : (function.variadic ?? .any)
            argv.append(try validate(piped, as: type, at: callOffset, callContext))
        }
        do {
            return try function.body(argv)
        } catch {
            throw fail("error calling \(name): \(error.message)", at: callOffset, callContext)
        }
    }

    /// Evaluates an argument and checks it against the parameter's Go type; literals are
    /// read as that type, the way Go reads an untyped constant.
    private func evalArgument(_ operand: Operand, as type: Parameter, dot: Evaluated) throws(TemplateError) -> TemplateValue {
        let context = operand.description
        let offset = operand.offset
        switch operand {
        case .dot:
            return try validate(dot, as: type, at: offset, context)
        case .nilValue:
            switch type {
            case .any: return .null
            case .strings: return .array([])
            default: throw fail("cannot assign nil to \(type.goName)", at: offset, context)
            }
        case .field(_, let names):
            let value = try evalFieldChain(dot: dot, receiver: dot, names: names, operand: operand, arguments: [], final: .absent)
            return try validate(value, as: type, at: offset, context)
        case .variable(_, let name, let names):
            var value = try variable(name, at: offset)
            if !names.isEmpty {
                value = try evalFieldChain(dot: dot, receiver: value, names: names, operand: operand, arguments: [], final: .absent)
            }
            return try validate(value, as: type, at: offset, context)
        case .pipeline(let pipe):
            return try validate(try evalPipeline(pipe, dot: dot), as: type, at: offset, context)
        case .identifier(_, let name):
            let value = try evalFunction(name, at: offset, command: nil, arguments: [], final: .absent, dot: dot)
            return try validate(value, as: type, at: offset, context)
        case .chain(_, let base, let names):
            let receiver = try evalChainBase(base, dot: dot)
            let value = try evalFieldChain(dot: dot, receiver: receiver, names: names, operand: operand, arguments: [], final: .absent)
            return try validate(value, as: type, at: offset, context)
        case .bool(_, let b):
            switch type {
            case .any: return .bool(b)
            case .strings: throw fail("can't handle \(context) for arg of type []string", at: offset, context)
            case .string: throw fail("expected string; found \(context)", at: offset, context)
            case .int: throw fail("expected integer; found \(context)", at: offset, context)
            }
        case .number(_, let literal):
            switch type {
            case .any: return try idealConstant(literal, at: offset) ?? .null
            case .int:
                guard let int = literal.int else { throw fail("expected integer; found \(context)", at: offset, context) }
                return .int(int)
            case .string: throw fail("expected string; found \(context)", at: offset, context)
            case .strings: throw fail("can't handle \(context) for arg of type []string", at: offset, context)
            }
        case .string(_, _, let value):
            switch type {
            case .any, .string: return .string(value)
            case .int: throw fail("expected integer; found \(context)", at: offset, context)
            case .strings: throw fail("can't handle \(context) for arg of type []string", at: offset, context)
            }
        }
    }

    /// Go's validateType: does a computed value fit the parameter?
    private func validate(
        _ value: Evaluated, as type: Parameter, at offset: Int, _ context: String
    ) throws(TemplateError) -> TemplateValue {
        switch type {
        case .any:
            return value ?? .null
        case .strings:
            guard let value else { return .array([]) }
            if case .array(let elements) = value, elements.allSatisfy({ if case .string = $0 { true } else { false } }) {
                return value
            }
            throw fail("wrong type for value; expected []string; got \(value.goTypeName)", at: offset, context)
        case .string, .int:
            guard let value else { throw fail("invalid value; expected \(type.goName)", at: offset, context) }
            switch (type, value) {
            case (.string, .string), (.int, .int): return value
            default: throw fail("wrong type for value; expected \(type.goName); got \(value.goTypeName)", at: offset, context)
            }
        }
    }
}
