/// A template that does not parse, or that fails while rendering, with where in its text.
///
/// Prints close to Go's text/template messages, e.g. `template: 1:8: unexpected "}" in operand`
/// or `template: 1:3: executing at <.Name.First>: can't evaluate field First in type string`.
/// Lines and columns count from 1, columns in Unicode scalars.
public struct TemplateError: Error, CustomStringConvertible, Sendable, Equatable {
    /// Whether the text did not parse, or a parsed template failed on the data it was given.
    public enum Phase: Sendable, Equatable {
        case parse
        case execute
    }

    public let phase: Phase
    public let line: Int
    public let column: Int
    /// The piece of template being executed when an execute error happened, e.g. `.State.Status`.
    public let context: String?
    public let message: String

    /// An error at `line`:`column` of a template's text; `context` only for execute errors.
    public init(phase: Phase, line: Int, column: Int, context: String? = nil, message: String) {
        self.phase = phase
        self.line = line
        self.column = column
        self.context = context
        self.message = message
    }

    /// One line, always: newlines inside values quoted in the message are escaped.
    public var description: String {
        var text = "template: \(line):\(column): "
        if let context { text += "executing at <\(context)>: " }
        text += message
        return text.replacing("\r", with: "\\r").replacing("\n", with: "\\n")
    }
}

/// Turns offsets into a template's text (in Unicode scalars) into lines and columns.
struct SourceLocator: Sendable {
    private let lineStarts: [Int]

    init(_ scalars: [Unicode.Scalar]) {
        var starts = [0]
        for (i, scalar) in scalars.enumerated() where scalar == "\n" { starts.append(i + 1) }
        lineStarts = starts
    }

    func location(of offset: Int) -> (line: Int, column: Int) {
        var low = 0
        var high = lineStarts.count - 1
        while low < high {
            let mid = (low + high + 1) / 2
            if lineStarts[mid] <= offset { low = mid } else { high = mid - 1 }
        }
        return (low + 1, offset - lineStarts[low] + 1)
    }

    func error(_ phase: TemplateError.Phase, at offset: Int, context: String? = nil, _ message: String) -> TemplateError {
        let (line, column) = location(of: offset)
        return TemplateError(phase: phase, line: line, column: column, context: context, message: message)
    }
}
