import Template
import Testing

/// printf against what Go's fmt.Sprintf prints for the same operands.
@Suite struct PrintfTests {
    static let values: TemplateValue = [
        "S": "hi", "I": 42, "N": -255, "F": 3.14159, "B": true, "Z": 0,
        "L": ["a", 1], "M": ["k": "v", "a": 2], "Smile": "☺", "Q": "a\"b\n☺",
    ]

    @Test(arguments: [
        // strings
        (#"{{printf "%s|%v|%q" .S .S .S}}"#, #"hi|hi|"hi""#),
        (#"{{printf "[%5s][%-5s][%.1s][%5.1s]" .S .S .S .S}}"#, "[   hi][hi   ][h][    h]"),
        (#"{{printf "%x %X % x %#x" .S .S .S .S}}"#, "6869 6869 68 69 0x6869"),
        (#"{{printf "%q" .Q}}"#, #""a\"b\n☺""#),
        (#"{{printf "%+q" .Smile}}"#, #""\u263a""#),
        (#"{{printf "%#q" .S}}"#, "`hi`"),
        (#"{{printf "%05s" .S}}"#, "000hi"),
        // integers
        (#"{{printf "%d|%v|%5d|%-5d|%05d" .I .I .I .I .I}}"#, "42|42|   42|42   |00042"),
        (#"{{printf "%+d % d %05d" .I .I .N}}"#, "+42  42 -0255"),
        (#"{{printf "%x %X %#x %o %#o %O %b" .N .I .I .I .I .I .I}}"#, "-ff 2A 0x2a 52 052 0o52 101010"),
        (#"{{printf "%c %q %U %#U" 65 65 128512 9786}}"#, "A 'A' U+1F600 U+263A '☺'"),
        (#"{{printf "%.3d|%.0d|%6.3d" .I .Z .I}}"#, "042||   042"),
        // floats
        (#"{{printf "%f|%.2f|%8.3f|%-8.3f|%08.3f" .F .F .F .F .F}}"#, "3.141590|3.14|   3.142|3.142   |0003.142"),
        (#"{{printf "%e|%E|%.2e" .F .F .F}}"#, "3.141590e+00|3.141590E+00|3.14e+00"),
        (#"{{printf "%g|%.3g|%v|%G" .F .F .F 1e-7}}"#, "3.14159|3.14|3.14159|1E-07"),
        (#"{{printf "%+.1f % .1f" .F .F}}"#, "+3.1  3.1"),
        (#"{{printf "%.0f %.0f %.0f %.1f" 0.5 1.5 2.5 0.25}}"#, "0 2 2 0.2"),
        (#"{{printf "%.2f %.2f %.3f" 2.675 1.005 1.0005}}"#, "2.67 1.00 1.000"),
        (#"{{printf "%.1f %.0f %f" 1e20 123456789.5 0.0000001}}"#, "100000000000000000000.0 123456790 0.000000"),
        (#"{{printf "%e %g %g" 0.0 100000.0 1000000.0}}"#, "0.000000e+00 100000 1e+06"),
        (#"{{printf "%#g %#.0f %#.3g" 1.0 3.0 2.0}}"#, "1.00000 3. 2.00"),
        (#"{{printf "%6.2f%%" 12.345}}"#, " 12.35%"),
        // booleans, composites, nil
        (#"{{printf "%t %v %5t" .B .B false}}"#, "true true false"),
        (#"{{printf "%v %s %d" .L .L .L}}"#, "[a 1] [a %!s(int=1)] [%!d(string=a) 1]"),
        (#"{{printf "%v|%q" .M .M}}"#, #"map[a:2 k:v]|map["a":'\x02' "k":"v"]"#),
        (#"{{printf "%#v %#v %#v" .L .S .M}}"#, #"[]interface {}{"a", 1} "hi" map[string]interface {}{"a":2, "k":"v"}"#),
        (#"{{printf "%v %s %d" .Nope .Nope nil}}"#, "<nil> %!s(<nil>) %!d(<nil>)"),
        (#"{{printf "%T %T %T %T %T %T" .S .I .F .B .L .M}}"#, "string int float64 bool []interface {} map[string]interface {}"),
        // mismatches and complaints, printed into the output as Go does
        (#"{{printf "%d" .S}}"#, "%!d(string=hi)"),
        (#"{{printf "%s" .I}}"#, "%!s(int=42)"),
        (#"{{printf "%d" .B}}"#, "%!d(bool=true)"),
        (#"{{printf "%d" .F}}"#, "%!d(float64=3.14159)"),
        (#"{{printf "%z" .I}}"#, "%!z(int=42)"),
        (#"{{printf "%d %d" .I}}"#, "42 %!d(MISSING)"),
        (#"{{printf "%d" .I .S .Nope}}"#, "42%!(EXTRA string=hi, <nil>)"),
        (#"{{printf "100%%"}}"#, "100%"),
        (#"{{printf "tail %"}}"#, "tail %!(NOVERB)"),
        // argument indexes and star widths
        (#"{{printf "%[2]d %[1]d" 1 2}}"#, "2 1"),
        (#"{{printf "%[3]d" 1 2}}"#, "%!d(BADINDEX)"),
        (#"{{printf "[%*d] [%-*d] [%.*f]" 5 42 4 7 2 3.14159}}"#, "[   42] [7   ] [3.14]"),
        (#"{{printf "%*d" "x" 1}}"#, "%!(BADWIDTH)1"),
        (#"{{printf "%.*d|%*d|" -1 5 -4 7}}"#, "%!(BADPREC)5|7   |"),
        // floats in binary and hexadecimal exponent form
        (#"{{printf "%x %X %.1x %b" 3.5 -0.1 1.0 1.0}}"#, "0x1.cp+01 -0X1.999999999999AP-04 0x1.0p+00 4503599627370496p-52"),
    ])
    func formatsLikeGo(template: String, expected: String) throws {
        #expect(try render(template, Self.values) == expected)
    }
}
