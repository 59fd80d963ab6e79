/// docker's `--format` conventions (cli/command/formatter), shared by `ps`, `images` and the
/// other listing commands.
public enum DockerFormat {
    /// Whether the format asks for a table: it starts with `table`.
    public static func isTable(_ format: String?) -> Bool { format?.hasPrefix("table") ?? false }

    /// Whether the format is docker's `json` shorthand: each row as compact JSON on a line.
    public static func isJSON(_ format: String?) -> Bool { format == "json" }

    /// Renders rows the way docker's formatter does:
    /// - no format (nil or empty) uses `defaultTable`;
    /// - `json` prints each row as compact JSON on its own line (docker's `{{json .}}`);
    /// - a format starting with `table` drops that word, prints a header line and then the
    ///   rows, and aligns everything with `TabWriter` at docker's settings;
    /// - any other format prints each row followed by a newline.
    ///
    /// The typed escapes `\t` and `\n` (a shell passes them as backslash and letter) become a
    /// tab and a newline, and spaces around the template are trimmed, in every case.
    ///
    /// The header renders the same template with each field read off dot replaced by its
    /// title: `headers[field]`, or else `header(for:)`. While it renders, `json`, `join`,
    /// `split`, `lower`, `upper`, `title` and `truncate` pass their text through unchanged,
    /// as docker's HeaderFunctions do. A header that fails to render (say `{{.State.Status}}`,
    /// whose title has no field `Status`) is cut where it failed, as docker's is.
    public static func render(
        format: String?, rows: [TemplateValue], defaultTable: String, headers: [String: String] = [:]
    ) throws(TemplateError) -> String {
        let format = effective(format, defaultTable)
        var body: String
        let table = format.hasPrefix("table")
        if format == "json" {
            body = "{{json .}}"
        } else if table {
            body = String(format.dropFirst("table".count))
        } else {
            body = format
        }
        body = expandEscapes(trimSpaces(body))
        let template = try Template(body)
        var output = ""
        if table {
            var titles: [(key: String, value: TemplateValue)] = []
            for field in template.dotFieldNames {
                let title = headers[field] ?? header(for: field)
                // A method, so `{{.Label "x"}}` gets its title like any field.
                titles.append((key: field, value: .method { _ in .string(title) }))
            }
            output += template.execute(.object(titles), functions: Functions.header).output
            output += "\n"
        }
        for row in rows {
            output += try template.render(row)
            output += "\n"
        }
        return table ? TabWriter.format(output) : output
    }

    /// Go's strconv.Quote, which docker's listings put around some columns (`ps`'s COMMAND).
    public static func quoted(_ text: String) -> String { GoQuote.quote(text) }

    /// The typed escapes docker understands in a format: `\t` to a tab, `\n` to a newline.
    public static func expandEscapes(_ format: String) -> String {
        format.replacing("\\t", with: "\t").replacing("\\n", with: "\n")
    }

    /// A column title from a field name in docker's style: words split at case changes,
    /// upper-cased. `ID` gives `ID`, `CreatedAt` gives `CREATED AT`, `ImageID` gives `IMAGE ID`.
    public static func header(for field: String) -> String {
        let characters = Array(field)
        var words: [String] = []
        var word = ""
        for (i, c) in characters.enumerated() {
            if !word.isEmpty, c.isUppercase {
                let previous = characters[i - 1]
                let nextIsLower = i + 1 < characters.count && characters[i + 1].isLowercase
                if previous.isLowercase || previous.isNumber || (previous.isUppercase && nextIsLower) {
                    words.append(word)
                    word = ""
                }
            }
            word.append(c)
        }
        if !word.isEmpty { words.append(word) }
        return words.map { $0.uppercased() }.joined(separator: " ")
    }

    private static func effective(_ format: String?, _ defaultTable: String) -> String {
        guard let format, !format.isEmpty else { return defaultTable }
        return format
    }

    /// strings.Trim(format, " "): spaces only, not tabs or newlines.
    private static func trimSpaces(_ s: String) -> String {
        var scalars = s.unicodeScalars[...]
        while scalars.first == " " { scalars = scalars.dropFirst() }
        while scalars.last == " " { scalars = scalars.dropLast() }
        return String(String.UnicodeScalarView(scalars))
    }
}
