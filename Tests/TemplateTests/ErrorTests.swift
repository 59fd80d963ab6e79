import Template
import Testing

/// Malformed templates fail at parse time with Go's messages and a line:column position.
@Suite struct ErrorTests {
    @Test(arguments: [
        ("{{.ID}", #"template: 1:6: unexpected "}" in operand"#),
        ("{{.ID", "template: 1:6: unclosed action"),
        ("{{.A}}{{", "template: 1:9: unclosed action"),
        ("{{foo .}}", #"template: 1:3: function "foo" not defined"#),
        ("{{range .Names}}x", "template: 1:18: unexpected EOF"),
        ("{{if .A}}{{range .B}}{{end}}", "template: 1:29: unexpected EOF"),
        ("{{if}}{{end}}", "template: 1:5: missing value for if"),
        ("{{range}}{{end}}", "template: 1:8: missing value for range"),
        ("{{}}", "template: 1:3: missing value for command"),
        ("{{end}}", "template: 1:3: unexpected {{end}}"),
        ("a{{else}}", "template: 1:4: unexpected {{else}}"),
        ("{{if .X}}a{{else}}b{{else}}c{{end}}", "template: 1:22: expected end; found {{else}}"),
        ("{{if .A}}{{else foo}}{{end}}", #"template: 1:17: unexpected "foo" in else"#),
        ("{{end x}}", #"template: 1:7: unexpected "x" in end"#),
        (#"{{"abc}}"#, "template: 1:3: unterminated quoted string"),
        ("{{`abc}}", "template: 1:3: unterminated raw quoted string"),
        ("{{'a}}", "template: 1:3: unterminated character constant"),
        (#"{{"\q"}}"#, "template: 1:3: invalid syntax"),
        ("{{/* x }}", "template: 1:3: unclosed comment"),
        ("{{/* x */ }}", "template: 1:3: comment ends before closing delimiter"),
        ("{{$x}}", #"template: 1:3: undefined variable "$x""#),
        (#"{{.A | "x"}}"#, "template: 1:8: non executable command in pipeline stage 2"),
        ("{{.A | .B | 3}}", "template: 1:13: non executable command in pipeline stage 3"),
        ("{{(.A}}", "template: 1:6: unclosed left paren"),
        ("{{.A)}}", #"template: 1:5: unexpected ")" in command"#),
        ("{{3x}}", #"template: 1:3: bad number syntax: "3x""#),
        ("{{1+2}}", #"template: 1:3: bad number syntax: "1+2""#),
        ("{{99999999999999999999}}", #"template: 1:3: integer overflow: "99999999999999999999""#),
        ("{{.A-B}}", "template: 1:3: bad character U+002D '-'"),
        ("{{#}}", ##"template: 1:3: unexpected "#" in command"##),
        ("{{.A €}}", "template: 1:6: unrecognized character in action: U+20AC '€'"),
        ("{{break}}", "template: 1:3: {{break}} outside {{range}}"),
        ("{{range .A}}{{else}}{{continue}}{{end}}", "template: 1:23: {{continue}} outside {{range}}"),
        ("{{range $a, $b, $c := .}}{{end}}", "template: 1:15: too many declarations in range"),
        ("{{$x, $y := 1}}", "template: 1:5: too many declarations in command"),
        (#"{{"a".B}}"#, #"template: 1:6: unexpected . after term "\"a\"""#),
        ("{{define \"x\"}}{{end}}", "template: 1:3: {{define}} is not supported"),
        ("{{template \"x\"}}", "template: 1:3: {{template}} is not supported"),
        ("line one\n  {{.A}\n", #"template: 2:7: unexpected "}" in operand"#),
        ("{{.A\n\n.B}", #"template: 3:3: unexpected "}" in operand"#),
        ("{{json .Config}", #"template: 1:15: unexpected "}" in operand"#),
        ("a {{.A\n  .B", "template: 2:5: unclosed action started at 1:3"),
        ("{{.A\n  €}}", "template: 2:3: unrecognized character in action: U+20AC '€' in action started at 1:1"),
    ])
    func reportsParseErrorsWithPositions(template: String, expected: String) {
        #expect(failure(template) == expected)
    }

    @Test func parseErrorsCarryTheirParts() throws {
        let error = try #require(throws: TemplateError.self) { try Template("ok\n{{bogus}}") }
        #expect(error.phase == .parse)
        #expect(error.line == 2)
        #expect(error.column == 3)
        #expect(error.context == nil)
        #expect(error.message == #"function "bogus" not defined"#)
    }

    @Test func executeErrorsCarryTheirContext() throws {
        let template = try Template("{{.ID}} {{.ID.Short}}")
        let error = try #require(throws: TemplateError.self) { try template.render(container) }
        #expect(error.phase == .execute)
        #expect(error.line == 1)
        #expect(error.column == 11)
        #expect(error.context == ".ID.Short")
        #expect(error.message == "can't evaluate field Short in type string")
    }

    @Test func descriptionsStayOnOneLine() {
        let description = failure("{{range .V}}{{end}}", ["V": "two\nlines"])
        #expect(description == #"template: 1:9: executing at <.V>: range can't iterate over two\nlines"#)
    }

    @Test func nestingIsBounded() {
        let deep = String(repeating: "{{if 1}}", count: 150) + String(repeating: "{{end}}", count: 150)
        #expect(failure(deep)?.hasSuffix("max expression depth exceeded") == true)
        let parens = "{{" + String(repeating: "(", count: 150) + "1" + String(repeating: ")", count: 150) + "}}"
        #expect(failure(parens)?.hasSuffix("max expression depth exceeded") == true)
    }

    @Test func whatGoAcceptsIsAccepted() throws {
        // A trailing pipe with nothing after it parses in Go, as does an action over lines.
        #expect(try render("{{.A | }}", ["A": "x"]) == "x")
        #expect(try render("{{printf\n  \"%s-%s\"\n  .A\n  .A}}", ["A": "x"]) == "x-x")
        #expect(try render("{{ .A }}", ["A": "x"]) == "x")
    }
}
