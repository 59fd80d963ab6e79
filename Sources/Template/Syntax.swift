/// The parsed form of a template, mirroring Go's text/template/parse nodes. Offsets are in
/// Unicode scalars from the start of the text; `description` reproduces Go's `String()`, which
/// execute errors quote as their context (`executing at <.A.B>`).
enum Node: Sendable {
    case text(String)
    case action(Pipeline)
    case ifBlock(Control)
    case withBlock(Control)
    case rangeBlock(Control)
    case breakLoop
    case continueLoop
}

struct Control: Sendable {
    var pipeline: Pipeline
    var list: [Node]
    var elseList: [Node]?
}

struct Declaration: Sendable {
    var name: String
    var offset: Int
}

struct Pipeline: Sendable, CustomStringConvertible {
    var offset: Int
    var declarations: [Declaration] = []
    /// `$x = …` assigns to existing variables; `$x := …` declares new ones.
    var isAssign = false
    var commands: [Command] = []

    var description: String {
        var text = ""
        if !declarations.isEmpty {
            text = declarations.map(\.name).joined(separator: ", ") + (isAssign ? " = " : " := ")
        }
        return text + commands.map(\.description).joined(separator: " | ")
    }
}

struct Command: Sendable, CustomStringConvertible {
    var offset: Int
    var arguments: [Operand] = []

    var description: String {
        arguments.map { argument in
            if case .pipeline(let pipe) = argument { return "(\(pipe))" }
            return argument.description
        }.joined(separator: " ")
    }
}

/// A number literal as Go's parser reads it: which types its text can be, and their values.
struct NumberLiteral: Sendable {
    var text: String
    var int: Int64?
    var uint: UInt64?
    var float: Double?
    var isCharacter = false
}

enum Operand: Sendable, CustomStringConvertible {
    /// `.A.B`: fields of dot.
    case field(offset: Int, names: [String])
    /// `$x.A.B`; `$` alone is the data the template was given.
    case variable(offset: Int, name: String, fields: [String])
    case dot(offset: Int)
    case nilValue(offset: Int)
    case bool(offset: Int, value: Bool)
    case number(offset: Int, literal: NumberLiteral)
    case string(offset: Int, quoted: String, value: String)
    /// A function name.
    case identifier(offset: Int, name: String)
    /// Fields of something other than dot or a variable: `(index .M "k").Name`.
    indirect case chain(offset: Int, base: Operand, fields: [String])
    case pipeline(Pipeline)

    var offset: Int {
        switch self {
        case .field(let offset, _), .variable(let offset, _, _), .dot(let offset), .nilValue(let offset),
             .bool(let offset, _), .number(let offset, _), .string(let offset, _, _),
             .identifier(let offset, _), .chain(let offset, _, _):
            offset
        case .pipeline(let pipe):
            pipe.offset
        }
    }

    var description: String {
        switch self {
        case .field(_, let names): names.map { "." + $0 }.joined()
        case .variable(_, let name, let fields): name + fields.map { "." + $0 }.joined()
        case .dot: "."
        case .nilValue: "nil"
        case .bool(_, let value): value ? "true" : "false"
        case .number(_, let literal): literal.text
        case .string(_, let quoted, _): quoted
        case .identifier(_, let name): name
        case .chain(_, let base, let fields):
            if case .pipeline(let pipe) = base {
                "(\(pipe))" + fields.map { "." + $0 }.joined()
            } else {
                base.description + fields.map { "." + $0 }.joined()
            }
        case .pipeline(let pipe): "(\(pipe))"
        }
    }
}

extension Node {
    /// Every field name read directly off dot or `$` anywhere in the tree (`.ID` in `{{.ID}}`,
    /// `.Names` in `{{join .Names ","}}`, `$.Image`): what a table header needs a title for.
    static func dotFieldNames(_ nodes: [Node]) -> [String] {
        var names: [String] = []
        func visitOperand(_ operand: Operand) {
            switch operand {
            case .field(_, let fields), .variable(_, "$", let fields):
                if let first = fields.first, !names.contains(first) { names.append(first) }
            case .chain(_, let base, _): visitOperand(base)
            case .pipeline(let pipe): visitPipeline(pipe)
            default: break
            }
        }
        func visitPipeline(_ pipe: Pipeline) {
            for command in pipe.commands { command.arguments.forEach(visitOperand) }
        }
        func visitNodes(_ nodes: [Node]) {
            for node in nodes {
                switch node {
                case .action(let pipe): visitPipeline(pipe)
                case .ifBlock(let control), .withBlock(let control), .rangeBlock(let control):
                    visitPipeline(control.pipeline)
                    visitNodes(control.list)
                    if let elseList = control.elseList { visitNodes(elseList) }
                case .text, .breakLoop, .continueLoop: break
                }
            }
        }
        visitNodes(nodes)
        return names
    }
}
