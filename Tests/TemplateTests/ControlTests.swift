import Template
import Testing

/// if, range, with, variables, pipelines, trimming and comments.
@Suite struct ControlTests {
    @Test func ifElseIfElse() throws {
        let text = #"{{if eq .State.Status "exited"}}down{{else if .State.Running}}up{{else}}unknown{{end}}"#
        #expect(try render(text, container) == "up")
        #expect(try render(text, ["State": ["Status": "exited"]]) == "down")
        #expect(try render(text, ["State": ["Status": "created", "Running": false]]) == "unknown")
        #expect(try render("{{if .Nope}}yes{{end}}", container) == "")
    }

    @Test(arguments: [
        (TemplateValue.null, false), (.bool(false), false), (.bool(true), true),
        (.int(0), false), (.int(-1), true), (.double(0), false), (.double(0.5), true),
        (.string(""), false), (.string("0"), true), (.array([]), false), (.array([.null]), true),
        (.object([]), false), (.object([(key: "a", value: .null)]), true),
    ])
    func truthFollowsGo(value: TemplateValue, truthy: Bool) throws {
        #expect(try render("{{if .V}}T{{else}}F{{end}}", ["V": value]) == (truthy ? "T" : "F"))
        #expect(try render("{{not .V}}", ["V": value]) == (truthy ? "false" : "true"))
    }

    @Test func rangeOverArraysWithIndexAndElement() throws {
        #expect(try render("{{range .Names}}<{{.}}>{{end}}", container) == "<web><frontend>")
        #expect(try render("{{range $i, $n := .Names}}{{$i}}={{$n}} {{end}}", container) == "0=web 1=frontend ")
        #expect(try render("{{range $n := .Names}}{{$n}};{{end}}", container) == "web;frontend;")
        #expect(try render("{{range .Mounts}}{{.Source}}->{{.Destination}} {{end}}", container)
            == "/srv/data->/data /etc/hosts->/etc/hosts ")
        #expect(try render("{{range .Names}}{{$.ID}}/{{.}} {{end}}", container) == "4f1c2a3b5d6e/web 4f1c2a3b5d6e/frontend ")
    }

    @Test func rangeOverObjectsVisitsKeysInSortedOrder() throws {
        #expect(try render("{{range $k, $v := .Labels}}{{$k}}={{$v}};{{end}}", container)
            == "app=web;com.example.tier=frontend;")
        #expect(try render("{{range .Labels}}{{.}} {{end}}", container) == "web frontend ")
        // Bytewise order: upper case sorts before lower case.
        #expect(try render("{{range $k, $v := .}}{{$k}}{{end}}", ["b": 1, "B": 2, "a": 3]) == "Bab")
    }

    @Test func rangeElseRunsWhenThereIsNothingToVisit() throws {
        #expect(try render("{{range .Ports}}port{{else}}none{{end}}", container) == "none")
        #expect(try render("{{range .Nope}}x{{else}}missing{{end}}", container) == "missing")
        #expect(try render("{{range .State.Health}}x{{else}}null{{end}}", container) == "null")
        #expect(try render("{{range .}}x{{else}}empty{{end}}", [:]) == "empty")
    }

    @Test func rangeOverAnInteger() throws {
        #expect(try render("{{range 3}}{{.}}{{end}}") == "012")
        #expect(try render("{{range $i := 2}}[{{$i}}]{{end}}") == "[0][1]")
        #expect(try render("{{range 0}}x{{else}}zero{{end}}") == "zero")
        #expect(failure("{{range $i, $e := 3}}{{end}}")
            == "template: 1:9: executing at <$i, $e := 3>: can't use 3 to iterate over more than one variable")
    }

    @Test func breakAndContinue() throws {
        let numbers: TemplateValue = ["L": [1, 2, 3, 4]]
        #expect(try render("{{range .L}}{{if eq . 3}}{{break}}{{end}}{{.}}{{end}}", numbers) == "12")
        #expect(try render("{{range .L}}{{if eq . 2}}{{continue}}{{end}}{{.}}{{end}}", numbers) == "134")
        #expect(try render("{{range .L}}{{range $.L}}{{break}}{{end}}{{.}}{{end}}", numbers) == "1234")
        // In an inner range's else, Go lets break end only that inner range, but continue
        // moves the outer one on.
        #expect(try render("{{range .L}}{{.}}{{range $.Nope}}{{else}}{{if eq . 2}}{{break}}{{end}}{{end}}{{end}}", numbers) == "1234")
        #expect(try render("{{range .L}}{{range $.Nope}}{{else}}{{if eq . 2}}{{continue}}{{end}}{{end}}{{.}}{{end}}", numbers) == "134")
        #expect(try render("{{range .L}}{{with .}}{{if gt . 1}}{{continue}}{{end}}{{end}}<{{.}}>{{end}}", numbers) == "<1>")
    }

    @Test func rangeOverAStringIsAnError() {
        #expect(failure("{{range .ID}}{{end}}", container)
            == "template: 1:9: executing at <.ID>: range can't iterate over 4f1c2a3b5d6e")
    }

    @Test func withSetsDotAndHasElse() throws {
        #expect(try render("{{with .State}}{{.Status}}/{{.Pid}}{{end}}", container) == "running/4242")
        #expect(try render("{{with .Nope}}x{{else}}no state{{end}}", container) == "no state")
        #expect(try render("{{with .Nope}}a{{else with .Image}}{{.}}{{else}}c{{end}}", container) == "nginx:1.25")
        #expect(try render("{{with $s := .State.Status}}{{$s}}{{end}}", container) == "running")
    }

    @Test func variablesDeclareAssignAndScope() throws {
        #expect(try render("{{$x := .ID}}{{$x}}", container) == "4f1c2a3b5d6e")
        #expect(try render("{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}") == "2")
        // A declaration inside a block shadows until the block's end.
        #expect(try render("{{$x := 1}}{{if true}}{{$x := 2}}{{$x}}{{end}}{{$x}}") == "21")
        #expect(try render("{{$}}", "root") == "root")
        #expect(try render("{{$n := len .Names}}{{$n}} names", container) == "2 names")
        #expect(failure("{{range .Names}}{{$n := .}}{{end}}{{$n}}", container)
            == #"template: 1:37: undefined variable "$n""#)
    }

    @Test func pipelinesPassTheValueAsTheLastArgument() throws {
        #expect(try render(#"{{.ID | printf "%.4s"}}"#, container) == "4f1c")
        #expect(try render("{{.Image | upper}}", container) == "NGINX:1.25")
        #expect(try render(#"{{.Image | printf "%s-%s" "x"}}"#, container) == "x-nginx:1.25")
        #expect(try render("{{.Names | len}}", container) == "2")
        #expect(try render(#"{{"a" | printf "%s%s" "b" | printf "[%s]"}}"#) == "[ba]")
        #expect(try render(#"{{printf "%s/%d" (index .Names 0) (len .Names)}}"#, container) == "web/2")
        #expect(try render(#"{{(printf "%d" 42) | len}}"#) == "2")
    }

    @Test func trimMarkersEatAdjacentWhitespace() throws {
        #expect(try render("a  \n\t{{- .ID -}} \n b", container) == "a4f1c2a3b5d6eb")
        #expect(try render("a {{- .ID}} b", container) == "a4f1c2a3b5d6e b")
        #expect(try render("a {{.ID -}} b", container) == "a 4f1c2a3b5d6eb")
        #expect(try render("{{range .Names -}}\n  {{.}}\n{{- end}}", container) == "webfrontend")
        // Without a space the dash is part of a number.
        #expect(try render("{{-3}}") == "-3")
        #expect(try render("x {{- 3}}") == "x3")
    }

    @Test func commentsDisappear() throws {
        #expect(try render("a{{/* a comment */}}b") == "ab")
        #expect(try render("a {{- /* trimmed */ -}} b") == "ab")
        #expect(try render("{{/* multi\nline */}}x") == "x")
    }

    @Test(arguments: [
        (#"{{"a\tb\u00e9\x41"}}"#, "a\tbéA"),
        ("{{`raw\\n{{x}}`}}", "raw\\n{{x}}"),
        ("{{'a'}}", "97"),
        (#"{{'\n'}}"#, "10"),
        ("{{0x1F}}", "31"),
        ("{{0o17}}", "15"),
        ("{{017}}", "15"),
        ("{{0b101}}", "5"),
        ("{{1_000}}", "1000"),
        ("{{1e3}}", "1000"),
        ("{{1.5}}", "1.5"),
        ("{{.5}}", "0.5"),
        ("{{-7}}", "-7"),
        ("{{+7}}", "7"),
        ("{{true}} {{false}}", "true false"),
        ("{{printf \"%T\" 1.0}}", "float64"),
        ("{{printf \"%T\" 1}}", "int"),
    ])
    func literals(template: String, expected: String) throws {
        #expect(try render(template) == expected)
    }
}
