import Template
import Testing

/// docker's `--format` conventions: table, json, plain templates, and the tab writer.
@Suite struct DockerFormatTests {
    static let rows: [TemplateValue] = [
        [
            "ID": "4f1c2a3b5d6e", "Image": "nginx:1.25", "Names": "web",
            "CreatedAt": "2024-05-01 10:00:00 +0000 UTC",
            "State": ["Status": "running"],
            "Label": .method { args in args.first == "app" ? "web" : "" },
        ],
        [
            "ID": "9a8b7c6d5e4f", "Image": "busybox", "Names": "job-with-a-long-name",
            "CreatedAt": "2024-05-02 11:30:00 +0000 UTC",
            "State": ["Status": "exited"],
            "Label": .method { args in args.first == "app" ? "batch" : "" },
        ],
    ]
    static let headers = ["ID": "CONTAINER ID", "Image": "IMAGE", "Names": "NAMES", "Label": "APP"]
    // As a shell passes it: a backslash and a t, not a tab.
    static let defaultTable = #"table {{.ID}}\t{{.Image}}\t{{.Names}}"#

    func table(_ format: String?, rows: [TemplateValue] = rows, headers: [String: String] = headers) throws -> String {
        try DockerFormat.render(format: format, rows: rows, defaultTable: Self.defaultTable, headers: headers)
    }

    @Test func tablePrintsAHeaderAndAlignsColumns() throws {
        let expected = """
            CONTAINER ID   IMAGE        NAMES
            4f1c2a3b5d6e   nginx:1.25   web
            9a8b7c6d5e4f   busybox      job-with-a-long-name

            """
        #expect(try table(Self.defaultTable) == expected)
        // No format, or an empty one, means the default table.
        #expect(try table(nil) == expected)
        #expect(try table("") == expected)
    }

    @Test func tableWithNoRowsStillPrintsItsHeader() throws {
        #expect(try table(#"table {{.ID}}\t{{.Image}}"#, rows: []) == "CONTAINER ID   IMAGE\n")
    }

    @Test func fieldsWithoutAHeaderGetDockerStyleTitles() throws {
        #expect(try table(#"table {{.ID}}\t{{.CreatedAt}}"#, headers: [:]) == """
            ID             CREATED AT
            4f1c2a3b5d6e   2024-05-01 10:00:00 +0000 UTC
            9a8b7c6d5e4f   2024-05-02 11:30:00 +0000 UTC

            """)
    }

    @Test(arguments: [
        ("ID", "ID"), ("CreatedAt", "CREATED AT"), ("ImageID", "IMAGE ID"), ("RunningFor", "RUNNING FOR"),
        ("HTTPPort", "HTTP PORT"), ("Size", "SIZE"), ("LocalVolumes", "LOCAL VOLUMES"), ("Names", "NAMES"),
    ])
    func defaultHeaderTitles(field: String, title: String) {
        #expect(DockerFormat.header(for: field) == title)
    }

    @Test func headerPassesTextThroughValueFunctions() throws {
        // upper, truncate and json would mangle a title; docker's header functions don't apply them.
        #expect(try table(#"table {{upper .Image}}\t{{truncate .ID 4}}\t{{json .Names}}"#) == """
            IMAGE        CONTAINER ID   NAMES
            NGINX:1.25   4f1c           "web"
            BUSYBOX      9a8b           "job-with-a-long-name"

            """)
        // pad keeps working, so the title lines up with its padded column.
        #expect(try table(#"table {{pad .Names 2 0}}|"#) == "  NAMES|\n  web|\n  job-with-a-long-name|\n")
    }

    @Test func fieldsReadThroughDollarGetTitles() throws {
        #expect(try table(#"table {{$.Image}}\t{{.ID}}"#, headers: [:])
            == "IMAGE        ID\nnginx:1.25   4f1c2a3b5d6e\nbusybox      9a8b7c6d5e4f\n")
    }

    @Test func methodsGetTitlesToo() throws {
        #expect(try table(#"table {{.ID}}\t{{.Label "app"}}"#) == """
            CONTAINER ID   APP
            4f1c2a3b5d6e   web
            9a8b7c6d5e4f   batch

            """)
    }

    @Test func aHeaderThatCannotRenderIsCutWhereItFailed() throws {
        // The title of State is a string, which has no field Status: docker prints what it has.
        #expect(try table(#"table {{.ID}}\t{{.State.Status}}"#)
            == "CONTAINER ID   \n4f1c2a3b5d6e   running\n9a8b7c6d5e4f   exited\n")
    }

    @Test func jsonPrintsEachRowOnItsOwnLine() throws {
        let output = try table("json", rows: [["ID": "a", "Cmd": "x<y", "Label": .method { _ in "" }], ["ID": "b", "Cmd": ""]])
        #expect(output == "{\"ID\":\"a\",\"Cmd\":\"x<y\"}\n{\"ID\":\"b\",\"Cmd\":\"\"}\n")
        #expect(DockerFormat.isJSON("json"))
        #expect(!DockerFormat.isJSON("{{json .}}"))
    }

    @Test func plainFormatsPrintEachRowWithTypedEscapesExpanded() throws {
        #expect(try table(#"{{.ID}}\t{{.Image}}"#) == "4f1c2a3b5d6e\tnginx:1.25\n9a8b7c6d5e4f\tbusybox\n")
        #expect(try table(#"{{.Names}}\n--"#) == "web\n--\njob-with-a-long-name\n--\n")
        // Spaces around the template go, as with docker's strings.Trim(format, " ").
        #expect(try table("  {{.Names}}  ") == "web\njob-with-a-long-name\n")
        #expect(try table(#"{{.ID}}"#, rows: []) == "")
        #expect(!DockerFormat.isTable(#"{{.ID}}\t{{.Image}}"#))
        #expect(DockerFormat.isTable("table {{.ID}}"))
        #expect(DockerFormat.expandEscapes(#"a\tb\nc\\d"#) == "a\tb\nc\\\\d")
    }

    @Test func aTableOfNothingButTheWordPrintsBlankLines() throws {
        #expect(try table("table") == "\n\n\n")
    }

    @Test func templateErrorsPropagate() {
        #expect(throws: TemplateError.self) { try table("table {{.ID}") }
        do {
            _ = try table(#"{{.ID.X}}"#)
            Issue.record("expected an error")
        } catch {
            #expect("\(error)" == "template: 1:3: executing at <.ID.X>: can't evaluate field X in type string")
        }
    }
}

@Suite struct TabWriterTests {
    @Test func alignsCellsWithDockerSettings() {
        #expect(TabWriter.format("a\tb\tc\naaa\tbbbbbbbbbbbbb\tc\n")
            == "a         b               c\naaa       bbbbbbbbbbbbb   c\n")
    }

    @Test func aLineWithFewerCellsEndsTheColumnBlock() {
        #expect(TabWriter.format("a\tb\nxyz\nlongerthanten\tc\n") == "a         b\nxyz\nlongerthanten   c\n")
    }

    @Test func emptyCellsArePaddedAndTrailingTextIsNot() {
        #expect(TabWriter.format("\tx\ny\tz\n") == "          x\ny         z\n")
        #expect(TabWriter.format("a\tb") == "a         b")
        #expect(TabWriter.format("a\t") == "a")
        #expect(TabWriter.format("") == "")
        #expect(TabWriter.format("no tabs\nat all\n") == "no tabs\nat all\n")
    }

    @Test func widthsCountCharactersNotBytes() {
        #expect(TabWriter.format("héllo\tx\nab\ty\n") == "héllo     x\nab        y\n")
    }

    @Test func otherSettings() {
        #expect(TabWriter.format("a\tbb\tc\nxx\ty\tz\n", minWidth: 0, padding: 1, padCharacter: ".") == "a..bb.c\nxx.y..z\n")
        #expect(TabWriter.format("a\tb\nccccccccc\td\n", minWidth: 0, tabWidth: 8, padding: 1, padCharacter: "\t")
            == "a\t\tb\nccccccccc\td\n")
    }
}
