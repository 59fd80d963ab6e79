import Testing
@testable import OCISpec

/// The project's JSON reader and writer, with which the runtime reads its state: what it accepts, what it
/// refuses, and that what it writes reads back the same (Go's escaping).
struct JSONValueTests {
    @Test func readsEveryKindOfValue() throws {
        let text = #" { "s": "a\"b\\c\/d\n\u00e9\ud83d\ude00", "n": -12.5e3, "big": 18446744073709551615, "t": true, "f": false, "z": null, "a": [1, [], {}], "o": {"k": "v"} } "#
        let value = try JSONValue.parse(Array(text.utf8))
        #expect(value["s"]?.string == "a\"b\\c/d\né😀")
        #expect(value["n"] == .number("-12.5e3"))
        #expect(value["big"]?.uint64 == UInt64.max)
        #expect(value["t"]?.bool == true && value["f"]?.bool == false && value["z"]?.isNull == true)
        #expect(value["a"] == .array([.number("1"), .array([]), .object([])]))
        #expect(value["o"]?["k"]?.string == "v")
        #expect(value["missing"] == nil)
        // What it writes reads back as the same value, control characters escaped.
        let written = JSONValue.object([("x", .string("tab\tnul\u{0}\u{1f}é/")), ("y", value)]).compact
        #expect(written.hasPrefix(#"{"x":"tab\tnul\u0000\u001fé/","#))
        #expect(try JSONValue.parse(Array(written.utf8)) == .object([("x", .string("tab\tnul\u{0}\u{1f}é/")), ("y", value)]))
    }

    @Test(arguments: [
        ("", "unexpected end"), ("{", "expected a key"), (#"{"a" 1}"#, "expected ':'"), (#"{"a":1,}"#, "expected a key"),
        ("[1 2]", "expected ',' or ']'"), (#""abc"#, "unterminated string"), ("\"a\u{01}\"", "control character"),
        (#""\x""#, "invalid escape"), (#""\u12""#, "\\u escape"), ("tru", "literal"), ("-", "invalid number"), ("01", "after the value"), ("1.", "invalid number"),
        ("{} x", "after the value"), (String(repeating: "[", count: 600), "nesting deeper than 512"),
    ])
    func refusesMalformedDocuments(text: String, reason: String) {
        do {
            _ = try JSONValue.parse(Array(text.utf8))
            Issue.record("\(text) was accepted")
        } catch {
            #expect(error.description.contains(reason), "\(text): \(error)")
        }
    }
}
