/// A parsed Go text/template, with the functions docker's and podman's `--format` offer.
///
/// Supported: text and `{{ }}` actions with `{{-`/`-}}` trimming and `{{/* comments */}}`;
/// fields (`.A.B`), `.`, `$` and variables (`:=`, `=`); pipelines and parenthesised
/// pipelines; string, raw string, character, number, `true`/`false`/`nil` literals;
/// `if`/`else if`/`else`, `range` (arrays, objects in sorted key order, integers) with
/// `else`, `break` and `continue`, `with`/`else with`; Go's builtin functions (`and`, `or`,
/// `not`, `len`, `index`, `slice`, `call`, `print`, `printf`, `println`, `html`, `js`,
/// `urlquery`, `eq`, `ne`, `lt`, `le`, `gt`, `ge`) and docker's (`json`, `join`, `split`,
/// `lower`, `upper`, `title`, `pad`, `truncate`). `define`, `template` and `block` are not.
///
/// A key missing from an object renders as `<no value>`, as a missing map key does in Go.
public struct Template: Sendable {
    /// The text the template was parsed from.
    public let source: String
    let root: [Node]
    private let locator: SourceLocator

    /// Parses `text`, failing with the position of the first error, as Go's Parse does.
    public init(_ text: String) throws(TemplateError) {
        try self.init(text, functions: Set(Functions.standard.keys))
    }

    init(_ text: String, functions: Set<String>) throws(TemplateError) {
        let scalars = Array(text.unicodeScalars)
        source = text
        locator = SourceLocator(scalars)
        root = try Parser.parse(scalars, functions: functions, locator: locator)
    }

    /// Executes the template with `data` as dot (and `$`).
    public func render(_ data: TemplateValue) throws(TemplateError) -> String {
        let result = execute(data, functions: Functions.standard)
        if let error = result.error { throw error }
        return result.output
    }

    /// Executes and returns whatever was written before any error, as Go's Execute leaves
    /// partial output in its writer (docker prints a table header that way).
    func execute(_ data: TemplateValue, functions: [String: Function]) -> (output: String, error: TemplateError?) {
        let evaluator = Evaluator(functions: functions, locator: locator)
        do {
            try evaluator.run(root, data: data)
            return (evaluator.output, nil)
        } catch {
            return (evaluator.output, error)
        }
    }

    /// The fields the template reads off dot, in first-use order.
    var dotFieldNames: [String] { Node.dotFieldNames(root) }
}
