// Fuzzes the Go-template `--format` engine: the input is a template; it is parsed, and if it parses it is
// rendered against a docker-shaped container (objects, arrays, a method, every scalar kind).
//
// Asserts: no crash or hang in the lexer, parser, evaluator or printf; every error is one line with a line and
// column counted from 1 that lie inside the text (parse errors); a template that parses renders the same way
// twice (no state leaks between executions).
import Template

let container: TemplateValue = .object([
    ("ID", .string("4f1c2a3b5d6e")),
    ("Names", .array([.string("web"), .string("front\nend"), .string("")])),
    ("Image", .string("nginx:1.25")),
    ("State", .object([("Status", .string("running")), ("Running", .bool(true)), ("Pid", .int(42)),
                       ("ExitCode", .int(-1)), ("Health", .null)])),
    ("Labels", .object([("com.example.tier", .string("frontend")), ("app", .string("wéb")), ("app", .string("x"))])),
    ("Ports", .array([])),
    ("Ratio", .double(0.25)),
    ("Huge", .double(1e300)),
    ("Mounts", .array([.object([("Source", .string("/srv")), ("RW", .bool(true))]), .int(3), .null])),
    ("Label", .method { arguments in
        guard arguments.count == 1, case .string(let key) = arguments[0] else {
            throw TemplateMethodError("Label takes one label name, got \(arguments.count) arguments")
        }
        return .string(key == "app" ? "web" : "")
    }),
])

/// Templates that only run long because they say so (`{{range 100000000}}`, nested ranges over big
/// integers, `pad` by a gigabyte) are parsed but not rendered: Go's text/template runs them just as long,
/// and a hang or out-of-memory there is the user asking for it, not a bug.
func asksForHugeWork(_ text: String) -> Bool {
    var longestNumber = 0, run = 0
    for scalar in text.unicodeScalars {
        if scalar.properties.numericType != nil || (run > 0 && (scalar == "_" || scalar.properties.isASCIIHexDigit)) {
            run += 1; longestNumber = max(longestNumber, run)
        } else {
            run = 0
        }
    }
    let ranges = text.split(separator: "range", omittingEmptySubsequences: false).count - 1
    return longestNumber >= 4 || (ranges >= 2 && longestNumber >= 3)
}

func checkError(_ error: TemplateError, _ text: String) {
    fuzzCheck(!error.description.contains("\n") && !error.description.contains("\r"),
              "a template error spans lines: \(error.description)")
    fuzzCheck(error.line >= 1 && error.column >= 1, "error position \(error.line):\(error.column) is not 1-based")
    // Lines as Go counts them: by "\n" scalars ("\r\n" is one Character, so Characters would count one short).
    let lines = text.unicodeScalars.filter { $0 == "\n" }.count + 1
    fuzzCheck(error.line <= lines, "error on line \(error.line) of a \(lines)-line template")
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ bytes: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: bytes, count: size), as: UTF8.self)
    let template: Template
    do {
        template = try Template(text)
    } catch {
        fuzzCheck(error.phase == .parse, "Template() failed with an execute error: \(error)")
        checkError(error, text)
        return 0
    }
    guard !asksForHugeWork(text) else { return 0 }
    let first: Result<String, TemplateError> = Result { () throws(TemplateError) in try template.render(container) }
    let second: Result<String, TemplateError> = Result { () throws(TemplateError) in try template.render(container) }
    switch (first, second) {
    case (.success(let a), .success(let b)):
        fuzzCheck(a == b, "two renders of one template differ")
    case (.failure(let a), .failure(let b)):
        fuzzCheck(a == b, "two renders of one template fail differently")
        checkError(a, text)
    default:
        fuzzCheck(false, "one render failed and the other did not")
    }
    _ = try? template.render(.null)
    _ = try? template.render(.array([.int(1), .string("a")]))
    return 0
}
