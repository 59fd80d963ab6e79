import Template
import Testing

/// Reading data: fields, dot, `$`, methods, and Go's default printing of each kind of value.
@Suite struct FieldTests {
    @Test(arguments: [
        ("{{.ID}}", "4f1c2a3b5d6e"),
        ("{{.State.Status}}", "running"),
        ("{{.State.Pid}}", "4242"),
        ("{{.State.Running}}", "true"),
        ("{{.State.ExitCode}}", "0"),
        ("{{.Ratio}}", "0.25"),
        ("{{.SizeRw}}", "1536"),
        ("id={{.ID}} image={{.Image}}", "id=4f1c2a3b5d6e image=nginx:1.25"),
        ("{{$.Image}}", "nginx:1.25"),
        ("{{with .State}}{{$.ID}}:{{.Status}}{{end}}", "4f1c2a3b5d6e:running"),
    ])
    func readsFieldsAndNestedFields(template: String, expected: String) throws {
        #expect(try render(template, container) == expected)
    }

    @Test func missingKeysPrintNoValue() throws {
        #expect(try render("{{.Nope}}", container) == "<no value>")
        #expect(try render("{{.Nope.Deeper.Still}}", container) == "<no value>")
        #expect(try render("{{.State.Nope}}", container) == "<no value>")
        #expect(try render("[{{.}}]") == "[<no value>]")
        // A stored null is a nil interface: it prints as no value too...
        #expect(try render("{{.State.Health}}", container) == "<no value>")
        // ...but reading a field through it is Go's nil pointer error.
        #expect(failure("{{.State.Health.Status}}", container)
            == "template: 1:3: executing at <.State.Health.Status>: nil pointer evaluating interface {}.Status")
        // Once a pipeline has produced it, the null is no value, and fields of it are too.
        #expect(try render("{{$h := .State.Health}}{{$h.Status}}", container) == "<no value>")
    }

    @Test func printsCompositesAsGoDoes() throws {
        #expect(try render("{{.Names}}", container) == "[web frontend]")
        #expect(try render("{{.Ports}}", container) == "[]")
        // Maps print with their keys sorted, whatever order they were stored in.
        #expect(try render("{{.Labels}}", container) == "map[app:web com.example.tier:frontend]")
        let nested: TemplateValue = ["b": ["x": [1, 2]], "a": [.null, "s", 1.5, true], "c": [:]]
        #expect(try render("{{.}}", nested) == "map[a:[<nil> s 1.5 true] b:map[x:[1 2]] c:map[]]")
        #expect(try render("{{.Mounts}}", container)
            == "[map[Destination:/data RW:true Source:/srv/data] map[Destination:/etc/hosts RW:false Source:/etc/hosts]]")
    }

    @Test(arguments: [
        (TemplateValue.double(1e6), "1e+06"),
        (.double(123456), "123456"),
        (.double(1234567), "1.234567e+06"),
        (.double(0.0001), "0.0001"),
        (.double(0.00001), "1e-05"),
        (.double(100), "100"),
        (.double(-0.5), "-0.5"),
        (.double(0), "0"),
        (.double(1.0 / 3.0), "0.3333333333333333"),
        (.double(.infinity), "+Inf"),
        (.double(-.infinity), "-Inf"),
        (.double(.nan), "NaN"),
        (.int(-9_223_372_036_854_775_808), "-9223372036854775808"),
    ])
    func printsNumbersAsGoDoes(value: TemplateValue, expected: String) throws {
        #expect(try render("{{.}}", value) == expected)
    }

    @Test func callsMethodsWithArgumentsAndPipedValues() throws {
        #expect(try render(#"{{.Label "app"}}"#, container) == "web")
        #expect(try render(#"{{.Label "com.example.tier"}}"#, container) == "frontend")
        #expect(try render(#"{{"app" | .Label}}"#, container) == "web")
        #expect(try render(#"[{{.Label "missing"}}]"#, container) == "[]")
        #expect(failure("{{.Label}}", container)
            == "template: 1:3: executing at <.Label>: error calling Label: Label takes one label name, got 0 arguments")
        // A method without arguments is called wherever it is reached, mid-chain included.
        let row: TemplateValue = [
            "Names": .method { _ in "web,frontend" },
            "Config": .method { _ in ["Env": ["A=1"]] },
        ]
        #expect(try render("{{.Names}} {{.Config.Env}}", row) == "web,frontend [A=1]")
    }

    @Test func fieldsWithArgumentsMustBeMethods() {
        #expect(failure(#"{{.ID "x"}}"#, container)
            == "template: 1:3: executing at <.ID>: ID is not a method but has arguments")
        #expect(failure("{{.Names | .Image}}", container)
            == "template: 1:12: executing at <.Image>: Image is not a method but has arguments")
    }

    @Test func fieldOfANonObjectIsAnError() {
        #expect(failure("{{.ID.Short}}", container)
            == "template: 1:3: executing at <.ID.Short>: can't evaluate field Short in type string")
        #expect(failure("{{.Names.First}}", container)
            == "template: 1:3: executing at <.Names.First>: can't evaluate field First in type []interface {}")
        #expect(failure("{{.State.Pid.X}}", container)
            == "template: 1:3: executing at <.State.Pid.X>: can't evaluate field X in type int")
    }

    @Test func readsFieldsOfParenthesisedPipelinesAndVariables() throws {
        #expect(try render(#"{{(index .Mounts 1).Destination}}"#, container) == "/etc/hosts")
        #expect(try render("{{$m := index .Mounts 0}}{{$m.Source}}:{{$m.RW}}", container) == "/srv/data:true")
        #expect(try render("{{$.State.Status}}", container) == "running")
        // A parenthesised pipeline that yields nothing has no fields, rather than a nil pointer.
        #expect(try render(#"{{(index .Labels "nope").X}}"#, container) == "<no value>")
        #expect(try render("{{(.Nope).X}} {{(.State.Health).X}}", container) == "<no value> <no value>")
    }

    @Test func printingAMethodValueIsAnError() {
        #expect(failure(#"{{index . "Label"}}"#, container)
            == #"template: 1:3: executing at <index . "Label">: can't print index . "Label" of type func"#)
    }
}
