import Template
import Testing

/// Go's builtin functions and docker's additions.
@Suite struct FunctionTests {
    @Test func jsonIsCompactKeepsOrderAndDoesNotEscapeHTML() throws {
        #expect(try render("{{json .Labels}}", container) == #"{"com.example.tier":"frontend","app":"web"}"#)
        #expect(try render("{{json .Names}}", container) == #"["web","frontend"]"#)
        #expect(try render("{{json .State}}", container)
            == #"{"Status":"running","Running":true,"Pid":4242,"ExitCode":0,"Health":null}"#)
        // docker's json sets SetEscapeHTML(false) and trims the encoder's newline.
        #expect(try render("{{json .}}", ["Cmd": "a<b && c>d"]) == #"{"Cmd":"a<b && c>d"}"#)
        #expect(try render("{{json .Nope}}", container) == "null")
        #expect(try render("{{json .Ratio}}", container) == "0.25")
        // Methods are behaviour, not data: json leaves them out.
        #expect(try render("{{json .}}", ["A": 1, "Label": .method { _ in "x" }]) == #"{"A":1}"#)
    }

    @Test func joinAndSplit() throws {
        #expect(try render(#"{{join .Names ", "}}"#, container) == "web, frontend")
        #expect(try render(#"{{join .Ports ","}}"#, container) == "")
        #expect(try render(#"{{split "a,b,,c" ","}}"#) == "[a b  c]")
        #expect(try render(#"{{len (split "" ",")}}"#) == "1")
        #expect(try render(#"{{split "héllo" ""}}"#) == "[h é l l o]")
        #expect(try render(#"{{join (split "a:b:c" ":") "-"}}"#) == "a-b-c")
        #expect(try render(#"{{index (split .Image ":") 1}}"#, container) == "1.25")
        #expect(failure(#"{{join .State ","}}"#, container)
            == "template: 1:8: executing at <.State>: wrong type for value; expected []string; got map[string]interface {}")
        #expect(failure(#"{{join (split "a" "") .Names}}"#, container)
            == "template: 1:23: executing at <.Names>: wrong type for value; expected string; got []interface {}")
    }

    @Test func caseFunctions() throws {
        #expect(try render(#"{{lower "NGINX:Latest"}}"#) == "nginx:latest")
        #expect(try render(#"{{upper "ünïcode ß"}}"#) == "ÜNÏCODE ß")
        #expect(try render(#"{{title "hello wORLD foo_bar x-y éclair"}}"#) == "Hello WORLD Foo_bar X-Y Éclair")
        #expect(failure("{{upper .State.Pid}}", container)
            == "template: 1:9: executing at <.State.Pid>: wrong type for value; expected string; got int")
        #expect(failure("{{upper .Nope}}", container)
            == "template: 1:9: executing at <.Nope>: invalid value; expected string")
        #expect(failure("{{upper 3}}") == "template: 1:9: executing at <3>: expected string; found 3")
    }

    @Test func truncateAndPad() throws {
        #expect(try render("{{truncate .ID 4}}", container) == "4f1c")
        #expect(try render(#"{{truncate "ab" 5}}"#) == "ab")
        #expect(try render(#"{{truncate "abc" 3}}"#) == "abc")
        // Byte-based like docker's, but never cutting a character in half.
        #expect(try render(#"{{truncate "héllo" 2}}"#) == "h")
        #expect(try render(#"[{{pad "x" 2 1}}]"#) == "[  x ]")
        #expect(try render(#"[{{pad "" 2 1}}]"#) == "[]")
        #expect(failure(#"{{truncate .ID "4"}}"#, container)
            == #"template: 1:16: executing at <"4">: expected integer; found "4""#)
    }

    @Test func lenIndexAndSlice() throws {
        #expect(try render("{{len .Names}} {{len .Labels}} {{len .ID}} {{len \"héllo\"}}", container) == "2 2 12 6")
        #expect(try render("{{index .Names 1}}", container) == "frontend")
        #expect(try render(#"{{index .Labels "app"}}"#, container) == "web")
        #expect(try render(#"{{index .Labels "nope"}}"#, container) == "<no value>")
        #expect(try render(#"{{index .Mounts 0 "Source"}}"#, container) == "/srv/data")
        #expect(try render(#"{{index "abc" 1}}"#) == "98")
        #expect(try render("{{index .Names}}", container) == "[web frontend]")
        #expect(try render(#"{{slice "abcdef" 1 3}}"#) == "bc")
        #expect(try render(#"{{slice "abcdef" 2}}"#) == "cdef")
        #expect(try render("{{slice .Names 1}}", container) == "[frontend]")
        #expect(try render("{{slice .Names 0 0}}", container) == "[]")
        #expect(failure("{{index .Names 5}}", container)
            == "template: 1:3: executing at <index .Names 5>: error calling index: index out of range: 5")
        #expect(failure("{{index .Names 2}}", container)
            == "template: 1:3: executing at <index .Names 2>: error calling index: index out of range: 2")
        #expect(failure(#"{{index .Names "a"}}"#, container)
            == #"template: 1:3: executing at <index .Names "a">: error calling index: cannot index slice/array with type string"#)
        #expect(failure("{{index .SizeRw 0}}", container)
            == "template: 1:3: executing at <index .SizeRw 0>: error calling index: can't index item of type int")
        #expect(failure("{{index .Nope 0}}", container)
            == "template: 1:3: executing at <index .Nope 0>: error calling index: index of untyped nil")
        #expect(failure(#"{{slice "abc" 2 1}}"#)
            == #"template: 1:3: executing at <slice "abc" 2 1>: error calling slice: invalid slice index: 2 > 1"#)
        #expect(failure("{{len 3}}") == "template: 1:3: executing at <len 3>: error calling len: len of type int")
        #expect(failure("{{len .Nope}}", container)
            == "template: 1:3: executing at <len .Nope>: error calling len: len of nil pointer")
    }

    @Test func comparisons() throws {
        #expect(try render(#"{{eq .State.Status "running"}}"#, container) == "true")
        #expect(try render("{{eq 1 2 3 1}} {{eq 1 2 3}}") == "true false")
        #expect(try render("{{ne 1 2}} {{ne \"a\" \"a\"}}") == "true false")
        #expect(try render("{{lt 1 2}} {{lt \"b\" \"a\"}} {{lt 1.5 2.5}}") == "true false true")
        #expect(try render("{{le 2 2}} {{le 3 2}}") == "true false")
        #expect(try render("{{gt 2 1}} {{gt 1 1}}") == "true false")
        #expect(try render("{{ge 1 1}} {{ge 0 1}}") == "true false")
        #expect(try render("{{if gt .SizeRw 1024}}big{{end}}", container) == "big")
        // A missing value is nil: unequal to anything but nil, and no error.
        #expect(try render(#"{{eq .Nope "x"}} {{eq .Nope nil}} {{eq .State.Health nil}}"#, container) == "false true true")
        #expect(failure(#"{{eq .State.Pid "4242"}}"#, container)
            == #"template: 1:3: executing at <eq .State.Pid "4242">: error calling eq: incompatible types for comparison: int and string"#)
        #expect(failure("{{lt 1 1.5}}")
            == "template: 1:3: executing at <lt 1 1.5>: error calling lt: incompatible types for comparison: int and float64")
        #expect(failure("{{lt true false}}")
            == "template: 1:3: executing at <lt true false>: error calling lt: invalid type for comparison")
        #expect(failure("{{eq .Names .Names}}", container)
            == "template: 1:3: executing at <eq .Names .Names>: error calling eq: non-comparable type [web frontend]: []interface {}")
        #expect(failure("{{eq 1}}") == "template: 1:3: executing at <eq 1>: error calling eq: missing argument for comparison")
    }

    @Test func andOrNotShortCircuitAndReturnOperands() throws {
        #expect(try render(#"{{and 1 0 "x"}}"#) == "0")
        #expect(try render(#"{{and 1 "x"}}"#) == "x")
        #expect(try render(#"{{or 0 "" "y"}}"#) == "y")
        #expect(try render(#"[{{or 0 ""}}]"#) == "[]")
        #expect(try render("{{not .Ports}} {{not .Names}}", container) == "true false")
        // The failing index is never evaluated.
        #expect(try render("{{or true (index .Names 9)}}", container) == "true")
        #expect(try render("{{and false (index .Names 9)}}", container) == "false")
        #expect(try render("{{if and .State.Running (gt .SizeRw 0)}}live{{end}}", container) == "live")
        #expect(try render(#"{{"x" | or false}}"#) == "x")
    }

    @Test func printAndPrintln() throws {
        #expect(try render(#"{{print "a" 1 2 "b" 3}}"#) == "a1 2b3")
        #expect(try render("{{print .Names .State.Pid}}", container) == "[web frontend] 4242")
        #expect(try render("{{print .Nope}}", container) == "<nil>")
        #expect(try render(#"{{println "a" 1}}"#) == "a 1\n")
    }

    @Test func escapers() throws {
        #expect(try render(#"{{html "<a href='x'>&\"</a>"}}"#) == "&lt;a href=&#39;x&#39;&gt;&amp;&#34;&lt;/a&gt;")
        #expect(try render(#"{{urlquery "a b&c=d/é"}}"#) == "a+b%26c%3Dd%2F%C3%A9")
        #expect(try render(#"{{js "it's <b> \"q\" \\"}}"#) == #"it\'s \u003Cb\u003E \"q\" \\"#)
        #expect(try render("{{html .Nope}}", container) == "&lt;no value&gt;")
    }

    @Test func callInvokesAMethodValue() throws {
        #expect(try render(#"{{call (index . "Label") "app"}}"#, container) == "web")
        #expect(failure("{{call .ID}}", container)
            == "template: 1:3: executing at <call .ID>: error calling call: non-function of type string")
    }

    @Test func argumentCountsAreChecked() {
        #expect(failure("{{join .Names}}", container)
            == "template: 1:3: executing at <join>: wrong number of args for join: want 2 got 1")
        #expect(failure("{{len}}") == "template: 1:3: executing at <len>: wrong number of args for len: want 1 got 0")
        #expect(failure("{{printf}}") == "template: 1:3: executing at <printf>: wrong number of args for printf: want at least 1 got 0")
        #expect(failure(#"{{"x" 1}}"#) == #"template: 1:3: executing at <"x">: can't give argument to non-function "x""#)
        #expect(failure("{{nil}}") == "template: 1:3: executing at <nil>: nil is not a command")
    }
}
