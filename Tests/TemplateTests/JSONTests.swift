import Template
import Testing

/// Reading JSON into values (order kept) and writing it back as Go's encoding/json does.
@Suite struct JSONTests {
    @Test func parsingKeepsKeyOrderAndRoundTrips() throws {
        let text = #"{"b":1,"a":[true,false,null,1.5,"x",-7],"c":{"z":1,"y":{}},"d":[]}"#
        let value = try TemplateValue.parse(json: text)
        #expect(value.jsonString() == text)
        guard case .object(let pairs) = value else {
            Issue.record("not an object: \(value)")
            return
        }
        #expect(pairs.map(\.key) == ["b", "a", "c", "d"])
        #expect(value["a"] == [true, false, .null, 1.5, "x", -7])
        #expect(value["c"]?["z"] == 1)
    }

    @Test func parsingToleratesWhitespaceAndReadsBytes() throws {
        let value = try TemplateValue.parse(json: Array(" \n\t{ \"k\" : [ 1 , 2 ] }\r\n ".utf8))
        #expect(value == ["k": [1, 2]])
    }

    @Test(arguments: [
        ("1", TemplateValue.int(1)),
        ("-0", .int(0)),
        ("9223372036854775807", .int(9_223_372_036_854_775_807)),
        ("9223372036854775808", .double(9_223_372_036_854_775_808)),
        ("1.0", .double(1)),
        ("1e2", .double(100)),
        ("-2.5E-3", .double(-0.0025)),
    ])
    func integersStayIntegers(text: String, expected: TemplateValue) throws {
        #expect(try TemplateValue.parse(json: text) == expected)
    }

    @Test func stringEscapes() throws {
        let value = try TemplateValue.parse(json: #""q\"b\\s\/\b\f\n\r\t\u00e9\ud83d\ude00""#)
        #expect(value == .string("q\"b\\s/\u{08}\u{0C}\n\r\té😀"))
        // A lone surrogate decodes to U+FFFD, as in Go.
        #expect(try TemplateValue.parse(json: #""\ud800x""#) == "\u{FFFD}x")
        #expect(try TemplateValue.parse(json: #""\udc00""#) == "\u{FFFD}")
    }

    @Test func repeatedKeysKeepTheFirstPlaceAndTheLastValue() throws {
        let value = try TemplateValue.parse(json: #"{"a":1,"b":2,"a":3}"#)
        #expect(value.jsonString() == #"{"a":3,"b":2}"#)
    }

    @Test(arguments: [
        (#"{"a":}"#, 5),
        ("[1,]", 3),
        ("tru", 3),
        ("1 2", 2),
        ("\"a\u{01}\"", 2),
        ("01", 1),
        ("-", 1),
        ("1.", 2),
        (#"{"a" 1}"#, 5),
        (#""\x""#, 2),
        ("", 0),
    ])
    func rejectsMalformedJSON(text: String, offset: Int) {
        #expect(throws: TemplateValue.JSONError.self) { try TemplateValue.parse(json: text) }
        do {
            _ = try TemplateValue.parse(json: text)
        } catch {
            #expect(error.offset == offset)
            #expect(error.description.hasPrefix("invalid JSON at byte \(offset): "))
        }
    }

    @Test func nestingIsBounded() {
        let deep = String(repeating: "[", count: 600) + String(repeating: "]", count: 600)
        #expect(throws: TemplateValue.JSONError.self) { try TemplateValue.parse(json: deep) }
        let fine = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect((try? TemplateValue.parse(json: fine)) != nil)
    }

    @Test func serializesStringsAsGoDoes() {
        let value: TemplateValue = ["s": "<b> & \"q\" \\ \u{01}\u{08}\u{0C}\n\r\t\u{7F}é\u{2028}😀"]
        #expect(value.jsonString() == #"{"s":"\u003cb\u003e \u0026 \"q\" \\ \u0001\b\f\n\r\t"#
            + "\u{7F}é" + #"\u2028"# + "😀\"}")
        #expect(value.jsonString(escapeHTML: false) == #"{"s":"<b> & \"q\" \\ \u0001\b\f\n\r\t"#
            + "\u{7F}é" + #"\u2028"# + "😀\"}")
    }

    @Test(arguments: [
        (0.1, "0.1"),
        (100.0, "100"),
        (-0.0, "-0"),
        (1e20, "100000000000000000000"),
        (1e21, "1e+21"),
        (1.5e300, "1.5e+300"),
        (0.000001, "0.000001"),
        (0.0000001, "1e-7"),
        (1.2345e-10, "1.2345e-10"),
        (123456789.0, "123456789"),
        (Double.leastNonzeroMagnitude, "5e-324"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (Double.nan, "null"),
    ])
    func serializesDoublesAsGoDoes(value: Double, expected: String) {
        #expect(TemplateValue.double(value).jsonString() == expected)
    }

    @Test func serializesEverythingElseCompactly() {
        let value: TemplateValue = [
            "n": .null, "t": true, "i": -12, "a": [], "o": [:], "nested": [["x": [1, "2"]]],
            "m": .method { _ in .null },
        ]
        #expect(value.jsonString() == #"{"n":null,"t":true,"i":-12,"a":[],"o":{},"nested":[{"x":[1,"2"]}]}"#)
        #expect(TemplateValue.array([.method { _ in .null }]).jsonString() == "[null]")
        #expect(value.description == value.jsonString())
    }
}
